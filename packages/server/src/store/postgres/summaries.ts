/**
 * Session summaries, maintained in the append transaction like the embedded store's day index
 * (sqlite/day-index.ts): a batch is folded in memory first (one row per session and day, per
 * level, key and field value of the batch — not per event), then applied with one statement per
 * table. Never recomputed by scanning events, except when an archived day is restored.
 *
 * Several writers may commit at once, and their batches interleave in id order, so nothing here
 * assumes a batch's ids follow the stored ones: first/last take the smaller/larger id, the latest
 * value of a key the larger id. Rows are written in primary-key order so two transactions that
 * touch the same sessions lock them in the same order (no deadlock).
 */
import type { NormalizedEvent } from '@logsrv/protocol';
import { dayOf } from '@logsrv/protocol';
import type { TransactionSql } from 'postgres';
import { pgText } from './copy-rows.js';

const FIELDS = ['user', 'terminal', 'component', 'level', 'step'] as const;

interface SessionDay {
  session: string;
  day: number;
  firstMs: number;
  firstSeq: number;
  lastMs: number;
  lastSeq: number;
  count: number;
}

function before(aMs: number, aSeq: number, bMs: number, bSeq: number): boolean {
  return aMs < bMs || (aMs === bMs && aSeq < bSeq);
}

/** Compares by code point (UTF-8 byte order: the order of COLLATE "C"). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Folds the stored events of a batch (`stored`: their indices) and writes the summaries. */
export async function applySummaries(tx: TransactionSql, events: NormalizedEvent[], ms: Float64Array, seq: Float64Array, stored: number[]): Promise<void> {
  const days = new Map<string, SessionDay>();
  const levels = new Map<string, [string, number, string, number]>();
  const latest = new Map<string, [string, string, number, number, number]>();
  const fields = new Set<string>();
  const fieldRows: [string, string, string, number][] = [];
  const dayNos = new Map<string, number>();
  for (const i of stored) {
    const e = events[i] as NormalizedEvent;
    const m = ms[i] as number;
    const s = seq[i] as number;
    const dayName = dayOf(m);
    let day = dayNos.get(dayName);
    if (day === undefined) {
      day = Number(dayName);
      dayNos.set(dayName, day);
    }
    const session = pgText(e.session);
    const dk = `${day}\0${session}`;
    const d = days.get(dk);
    if (d === undefined) days.set(dk, { session, day, firstMs: m, firstSeq: s, lastMs: m, lastSeq: s, count: 1 });
    else {
      if (before(m, s, d.firstMs, d.firstSeq)) {
        d.firstMs = m;
        d.firstSeq = s;
      }
      if (before(d.lastMs, d.lastSeq, m, s)) {
        d.lastMs = m;
        d.lastSeq = s;
      }
      d.count++;
    }
    if (e.level !== null) {
      const level = pgText(e.level);
      const lk = `${dk}\0${level}`;
      const l = levels.get(lk);
      if (l) l[3]++;
      else levels.set(lk, [session, day, level, 1]);
    }
    const key = pgText(e.key);
    const kk = `${dk}\0${key}`;
    const k = latest.get(kk);
    if (k === undefined) latest.set(kk, [session, key, day, m, s]);
    else if (before(k[3], k[4], m, s)) {
      k[3] = m;
      k[4] = s;
    }
    for (const f of FIELDS) {
      const v = e[f];
      if (v === null) continue;
      const value = pgText(v);
      const fk = `${f}\0${value}\0${session}\0${day}`;
      if (fields.has(fk)) continue;
      fields.add(fk);
      fieldRows.push([f, value, session, day]);
    }
  }
  const dayRows = [...days.values()].sort((a, b) => cmp(a.session, b.session) || a.day - b.day);
  // Per session over the batch, for the listing table.
  const totals = new Map<string, SessionDay>();
  for (const d of dayRows) {
    const t = totals.get(d.session);
    if (t === undefined) totals.set(d.session, { ...d });
    else {
      if (before(d.firstMs, d.firstSeq, t.firstMs, t.firstSeq)) {
        t.firstMs = d.firstMs;
        t.firstSeq = d.firstSeq;
      }
      if (before(t.lastMs, t.lastSeq, d.lastMs, d.lastSeq)) {
        t.lastMs = d.lastMs;
        t.lastSeq = d.lastSeq;
      }
      t.count += d.count;
    }
  }
  const totalRows = [...totals.values()];
  const levelRows = [...levels.values()].sort((a, b) => cmp(a[0], b[0]) || a[1] - b[1] || cmp(a[2], b[2]));
  const latestRows = [...latest.values()].sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]) || a[2] - b[2]);
  fieldRows.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]) || cmp(a[2], b[2]) || a[3] - b[3]);
  const col = <T, K extends keyof T>(rows: T[], k: K): T[K][] => rows.map((r) => r[k]);
  // Pipelined: sent together, answered together; each in primary-key order.
  const work: Promise<unknown>[] = [
    tx`INSERT INTO sessions (session, first_ms, first_seq, last_ms, last_seq, count)
       SELECT * FROM unnest(${col(totalRows, 'session')}::text[], ${col(totalRows, 'firstMs')}::bigint[], ${col(totalRows, 'firstSeq')}::bigint[],
         ${col(totalRows, 'lastMs')}::bigint[], ${col(totalRows, 'lastSeq')}::bigint[], ${col(totalRows, 'count')}::bigint[])
       ORDER BY 1
       ON CONFLICT (session) DO UPDATE SET
         first_ms  = CASE WHEN (excluded.first_ms, excluded.first_seq) < (sessions.first_ms, sessions.first_seq) THEN excluded.first_ms ELSE sessions.first_ms END,
         first_seq = CASE WHEN (excluded.first_ms, excluded.first_seq) < (sessions.first_ms, sessions.first_seq) THEN excluded.first_seq ELSE sessions.first_seq END,
         last_ms   = CASE WHEN (excluded.last_ms, excluded.last_seq) > (sessions.last_ms, sessions.last_seq) THEN excluded.last_ms ELSE sessions.last_ms END,
         last_seq  = CASE WHEN (excluded.last_ms, excluded.last_seq) > (sessions.last_ms, sessions.last_seq) THEN excluded.last_seq ELSE sessions.last_seq END,
         count     = sessions.count + excluded.count`.execute(),
    tx`INSERT INTO session_days (session, day, first_ms, first_seq, last_ms, last_seq, count)
       SELECT * FROM unnest(${col(dayRows, 'session')}::text[], ${col(dayRows, 'day')}::integer[], ${col(dayRows, 'firstMs')}::bigint[],
         ${col(dayRows, 'firstSeq')}::bigint[], ${col(dayRows, 'lastMs')}::bigint[], ${col(dayRows, 'lastSeq')}::bigint[], ${col(dayRows, 'count')}::bigint[])
       ORDER BY 1, 2
       ON CONFLICT (session, day) DO UPDATE SET
         first_ms  = CASE WHEN (excluded.first_ms, excluded.first_seq) < (session_days.first_ms, session_days.first_seq) THEN excluded.first_ms ELSE session_days.first_ms END,
         first_seq = CASE WHEN (excluded.first_ms, excluded.first_seq) < (session_days.first_ms, session_days.first_seq) THEN excluded.first_seq ELSE session_days.first_seq END,
         last_ms   = CASE WHEN (excluded.last_ms, excluded.last_seq) > (session_days.last_ms, session_days.last_seq) THEN excluded.last_ms ELSE session_days.last_ms END,
         last_seq  = CASE WHEN (excluded.last_ms, excluded.last_seq) > (session_days.last_ms, session_days.last_seq) THEN excluded.last_seq ELSE session_days.last_seq END,
         count     = session_days.count + excluded.count`.execute(),
  ];
  if (levelRows.length > 0) {
    work.push(
      tx`INSERT INTO session_levels (session, day, level, count)
         SELECT * FROM unnest(${levelRows.map((r) => r[0])}::text[], ${levelRows.map((r) => r[1])}::integer[], ${levelRows.map((r) => r[2])}::text[],
           ${levelRows.map((r) => r[3])}::bigint[])
         ORDER BY 1, 2, 3
         ON CONFLICT (session, day, level) DO UPDATE SET count = session_levels.count + excluded.count`.execute(),
    );
  }
  work.push(
    tx`INSERT INTO session_latest (session, key, day, ms, seq)
       SELECT * FROM unnest(${latestRows.map((r) => r[0])}::text[], ${latestRows.map((r) => r[1])}::text[], ${latestRows.map((r) => r[2])}::integer[],
         ${latestRows.map((r) => r[3])}::bigint[], ${latestRows.map((r) => r[4])}::bigint[])
       ORDER BY 1, 2, 3
       ON CONFLICT (session, key, day) DO UPDATE SET ms = excluded.ms, seq = excluded.seq
         WHERE (excluded.ms, excluded.seq) > (session_latest.ms, session_latest.seq)`.execute(),
  );
  if (fieldRows.length > 0) {
    work.push(
      tx`INSERT INTO session_fields (field, value, session, day)
         SELECT * FROM unnest(${fieldRows.map((r) => r[0])}::text[], ${fieldRows.map((r) => r[1])}::text[], ${fieldRows.map((r) => r[2])}::text[],
           ${fieldRows.map((r) => r[3])}::integer[])
         ORDER BY 1, 2, 3, 4
         ON CONFLICT DO NOTHING`.execute(),
    );
  }
  await Promise.all(work);
}
