/**
 * `format=json|ndjson` pages written straight from row arrays, in the reader thread: no event
 * objects, no JSON.stringify of a page.
 *
 * The bytes are exactly those of JSON.stringify over rowToEvent's objects (tested against it):
 * - the event's keys in rowToEvent's order;
 * - `value`: JSON text (vjson = 1) is written as stored — it is JSON.stringify's output
 *   (normalizeEvent), which JSON.parse then JSON.stringify give back unchanged; a plain string
 *   is quoted by SQLite's json_quote (JSON_COLUMNS), whose escapes are JSON.stringify's for every
 *   character (tested);
 * - `attrs` likewise as stored; other strings through JSON.stringify;
 * - times through Date#toISOString, cached: a batch's events share their receive time.
 *
 * Why: for a page of 10,000 events, rowToEvent + JSON.stringify cost about twice this (measured
 * with bench/micro.ts, "4 render a page").
 */

import type { RowPage } from './read-session.js';
import { SELECT_COLUMNS } from './schema.js';

/** SELECT_COLUMNS with `value` as JSON text: what {@link renderJsonRows} reads. */
export const JSON_COLUMNS = SELECT_COLUMNS.replace(', value,', ', CASE WHEN vjson THEN value ELSE json_quote(value) END,');

/** The event of a row of {@link JSON_COLUMNS} as JSON; `iso` caches the last times written. */
export function eventJson(a: unknown[], iso: IsoCache): string {
  const ms = a[0] as number;
  const received = iso.of(ms);
  const ts = a[6] as number | null;
  let s = `{"id":"${ms}-${a[1] as number}","session":${JSON.stringify(a[2])},"key":${JSON.stringify(a[3])},"value":${a[4] as string},"ts":${ts === null ? received : iso.ofTs(ts)},"received":${received}`;
  if (a[7] !== null) s += `,"component":${JSON.stringify(a[7])}`;
  if (a[8] !== null) s += `,"user":${JSON.stringify(a[8])}`;
  if (a[9] !== null) s += `,"terminal":${JSON.stringify(a[9])}`;
  if (a[10] !== null) s += `,"step":${JSON.stringify(a[10])}`;
  if (a[11] !== null) s += `,"level":${JSON.stringify(a[11])}`;
  if (a[12] !== null) s += `,"attrs":${a[12] as string}`;
  if (a[13] !== null) s += `,"producer":${JSON.stringify(a[13])}`;
  if (a[14] !== null) s += `,"seq":${JSON.stringify(a[14])}`;
  return `${s}}`;
}

/** Date's range: ±this many ms. */
const MAX_TIME = 8.64e15;

/**
 * Quoted ISO times of the last receive time and the last producer time seen. Producer times
 * differ from event to event, so a time is written as its second's text (Date#toISOString, once
 * per second) and its milliseconds: toISOString's bytes for every integer time (tested), and
 * toISOString itself for any other.
 */
export class IsoCache {
  private ms = Number.NaN;
  private msText = '';
  private ts = Number.NaN;
  private tsText = '';
  private sec = Number.NaN;
  /** `"` and the ISO text of second `sec` up to its milliseconds (`"2026-12-05T14:08:37.`). */
  private secHead = '';
  of(ms: number): string {
    if (ms !== this.ms) {
      this.ms = ms;
      this.msText = this.quoted(ms);
    }
    return this.msText;
  }
  ofTs(ts: number): string {
    if (ts !== this.ts) {
      this.ts = ts;
      this.tsText = this.quoted(ts);
    }
    return this.tsText;
  }
  private quoted(t: number): string {
    // toISOString itself (or its RangeError) for a fraction or a time out of Date's range.
    if (!Number.isInteger(t) || t > MAX_TIME || t < -MAX_TIME) return `"${new Date(t).toISOString()}"`;
    const sec = Math.floor(t / 1000);
    if (sec !== this.sec) {
      const iso = new Date(sec * 1000).toISOString();
      this.sec = sec;
      this.secHead = `"${iso.slice(0, -4)}`;
    }
    const milli = t - sec * 1000;
    return `${this.secHead}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z"`;
  }
}

/** A page of {@link JSON_COLUMNS} rows as the body of `format=json` or `format=ndjson`. */
export function renderJsonRows(page: RowPage, format: 'json' | 'ndjson'): string {
  const iso = new IsoCache();
  let body = '';
  if (format === 'ndjson') {
    for (const a of page.rows) body += `${eventJson(a, iso)}\n`;
    return body;
  }
  body = '{"events":[';
  for (let i = 0; i < page.rows.length; i++) body += (i === 0 ? '' : ',') + eventJson(page.rows[i] as unknown[], iso);
  body += `],"next":${JSON.stringify(page.next)}`;
  if (page.prev !== undefined) body += `,"prev":${JSON.stringify(page.prev)}`;
  return `${body}}`;
}
