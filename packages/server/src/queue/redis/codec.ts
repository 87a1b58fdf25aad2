/**
 * How a batch of events is written into a stream entry: one JSON array of rows (the event
 * fields by position), compact and quick to parse on the writer.
 */
import type { NormalizedEvent } from '@logsrv/protocol';

type Row = [
  string,
  string,
  string,
  0 | 1,
  number | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  number | null,
];

export function encodeEvents(events: readonly NormalizedEvent[]): string {
  const rows: Row[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as NormalizedEvent;
    rows[i] = [e.session, e.key, e.value, e.vjson, e.ts, e.component, e.user, e.terminal, e.step, e.level, e.attrs, e.producer, e.pseq];
  }
  return JSON.stringify(rows);
}

export function decodeEvents(text: string): NormalizedEvent[] {
  const rows = JSON.parse(text) as Row[];
  const out: NormalizedEvent[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as Row;
    out[i] = {
      session: r[0],
      key: r[1],
      value: r[2],
      vjson: r[3],
      ts: r[4],
      component: r[5],
      user: r[6],
      terminal: r[7],
      step: r[8],
      level: r[9],
      attrs: r[10],
      producer: r[11],
      pseq: r[12],
    };
  }
  return out;
}

/** An entry's id is its last event's: `ms-(seq0 + n - 1)`. */
export function entryIds(entryId: string, n: number, ms: Float64Array, seq: Float64Array, at: number): void {
  const cut = entryId.indexOf('-');
  const m = Number(entryId.slice(0, cut));
  const last = Number(entryId.slice(cut + 1));
  for (let i = 0; i < n; i++) {
    ms[at + i] = m;
    seq[at + i] = last - n + 1 + i;
  }
}

/** Compares two stream ids ("ms-seq"). */
export function compareStreamIds(a: string, b: string): number {
  const ca = a.indexOf('-');
  const cb = b.indexOf('-');
  const ma = Number(a.slice(0, ca));
  const mb = Number(b.slice(0, cb));
  if (ma !== mb) return ma - mb;
  return Number(a.slice(ca + 1)) - Number(b.slice(cb + 1));
}
