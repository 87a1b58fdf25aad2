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
type Field = (typeof FIELDS)[number];
const DAY_MS = 86_400_000;

interface SessionDay {
  session: string;
  day: number;
  firstMs: number;
  firstSeq: number;
  lastMs: number;
  lastSeq: number;
  count: number;
}

/** One session's share of one day of a batch. */
interface Acc {
  row: SessionDay;
  levels: Map<string, number> | null;
  /** key → [ms, seq] of its latest event. */
  latest: Map<string, [number, number]>;
  /** Distinct values per field of FIELDS, by index. */
  fields: Set<string>[] | null;
}

function before(aMs: number, aSeq: number, bMs: number, bSeq: number): boolean {
  return aMs < bMs || (aMs === bMs && aSeq < bSeq);
}

/** Folds the stored events of a batch (`stored`: their indices) and writes the summaries. */
export async function applySummaries(tx: TransactionSql, events: NormalizedEvent[], ms: Float64Array, seq: Float64Array, stored: number[]): Promise<void> {
  // Per day, per session: one accumulator, found with one Map lookup per event (this runs for
  // every event of every batch; string keys built per event cost more than the upserts).
  const byDay = new Map<number, Map<string, Acc>>();
  let lastDayNo = Number.NaN;
  let sessionsOfDay = new Map<string, Acc>();
  let day = 0;
  for (const i of stored) {
    const e = events[i] as NormalizedEvent;
    const m = ms[i] as number;
    const s = seq[i] as number;
    const dayNo = Math.floor(m / DAY_MS);
    if (dayNo !== lastDayNo) {
      lastDayNo = dayNo;
      day = Number(dayOf(m));
      let got = byDay.get(dayNo);
      if (got === undefined) {
        got = new Map();
        byDay.set(dayNo, got);
      }
      sessionsOfDay = got;
    }
    let a = sessionsOfDay.get(e.session);
    if (a === undefined) {
      a = { row: { session: pgText(e.session), day, firstMs: m, firstSeq: s, lastMs: m, lastSeq: s, count: 0 }, levels: null, latest: new Map(), fields: null };
      sessionsOfDay.set(e.session, a);
    }
    const d = a.row;
    if (before(m, s, d.firstMs, d.firstSeq)) {
      d.firstMs = m;
      d.firstSeq = s;
    }
    if (before(d.lastMs, d.lastSeq, m, s)) {
      d.lastMs = m;
      d.lastSeq = s;
    }
    d.count++;
    if (e.level !== null) {
      a.levels ??= new Map();
      a.levels.set(e.level, (a.levels.get(e.level) ?? 0) + 1);
    }
    const k = a.latest.get(e.key);
    if (k === undefined) a.latest.set(e.key, [m, s]);
    else if (before(k[0], k[1], m, s)) {
      k[0] = m;
      k[1] = s;
    }
    for (let f = 0; f < FIELDS.length; f++) {
      const v = e[FIELDS[f] as Field];
      if (v === null) continue;
      a.fields ??= [new Set(), new Set(), new Set(), new Set(), new Set()];
      (a.fields[f] as Set<string>).add(v);
    }
  }
  // Rows per table; each statement below sorts them by primary key (ORDER BY), which is what
  // fixes the order its row locks are taken in.
  const dayRows: SessionDay[] = [];
  const levelRows: [string, number, string, number][] = [];
  const latestRows: [string, string, number, number, number][] = [];
  const fieldRows: [string, string, string, number][] = [];
  for (const sessions of byDay.values()) {
    for (const a of sessions.values()) {
      const { session, day: dn } = a.row;
      dayRows.push(a.row);
      if (a.levels) for (const [level, n] of a.levels) levelRows.push([session, dn, pgText(level), n]);
      for (const [key, id] of a.latest) latestRows.push([session, pgText(key), dn, id[0], id[1]]);
      if (a.fields) {
        a.fields.forEach((values, f) => {
          for (const v of values) fieldRows.push([FIELDS[f] as Field, pgText(v), session, dn]);
        });
      }
    }
  }
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
