/**
 * Reading events: one session after or before a cursor, all sessions by filter and `q` over
 * `(after, until]`, where a session ends, the last id. Each read is one SQL statement over the
 * partitioned table; `ms` bounds beside the `(ms, seq)` row comparison let PostgreSQL skip the
 * partitions outside the range, and `ORDER BY ms, seq LIMIT n` walks the primary key or the
 * (session, ms, seq) index in order — or, for a rare word, the GIN index on `words` and a sort:
 * the planner picks by its statistics.
 */
import type { EventId } from '@logsrv/protocol';
import { dayStartMs, isSessionEnd, SESSION_END_KEY, STEP_EXIT_KEY } from '@logsrv/protocol';
import type { Sql } from 'postgres';
import type { TextQuery } from '../../search/index.js';
import { matchesText, parseTextQuery } from '../../search/index.js';
import type { EventRowLike } from '../rows.js';
import { rowToEvent } from '../rows.js';
import type { EventPage, EventsQuery, SessionEnd, SessionQuery } from '../store.js';
import { decodeRow, pgText } from './copy-rows.js';
import { DAY_MS, SELECT_COLUMNS } from './schema.js';
import { textCondition } from './text-sql.js';

/** Larger than any id's ms or seq; within bigint. */
export const NO_BOUND = Number.MAX_SAFE_INTEGER;
const FILTER_COLUMNS = ['key', 'step', 'component', 'user', 'terminal', 'level'] as const;

/**
 * Not prepared: every read is planned with its values. A prepared statement switches to a generic
 * plan after five runs, and the generic plan of `words @> $n` guesses a rare word: measured here,
 * `q=timeout` (a word in half the rows) then took 103 ms through the GIN index and a sort instead
 * of 0.2 ms walking the primary key; actual time bounds also let the planner drop partitions.
 */
async function rows(sql: Sql, text: string, args: unknown[]): Promise<EventRowLike[]> {
  const got = await sql.unsafe<EventRowLike[]>(text, args as never[], { prepare: false });
  return got.map(decodeRow);
}

/** A read's filters, with the candidate sessions the summaries allow (see {@link candidateSessions}). */
type Filters = Partial<EventsQuery> & { sessions?: string[] };

/** `session = …` and the field filters as ` AND …` conditions, numbered from `$first`. */
function filters(q: Filters, first: number): { sql: string; args: unknown[] } {
  let sql = '';
  const args: unknown[] = [];
  let n = first;
  if (q.session !== undefined) {
    sql += ` AND session = $${n++}`;
    args.push(pgText(q.session));
  } else if (q.sessions !== undefined) {
    sql += ` AND session = ANY($${n++}::text[])`;
    args.push(q.sessions);
  }
  for (const c of FILTER_COLUMNS) {
    const v = q[c];
    if (v === undefined) continue;
    sql += ` AND ${c === 'user' ? '"user"' : c} = $${n++}`;
    args.push(pgText(v));
  }
  return { sql, args };
}

/** Days (YYYYMMDD as integers, ascending) with rows stored without tokens (schema.ts). */
export async function unindexedDays(sql: Sql): Promise<number[]> {
  return (await sql<{ day: number }[]>`SELECT day FROM unindexed_days ORDER BY day`).map((r) => r.day);
}

/** Rows of `q` in `(lo, hi]` with the filters, and `text` as SQL when given, in id order. */
async function select(sql: Sql, q: Filters, lo: EventId, hi: EventId, limit: number, text: TextQuery | null): Promise<EventRowLike[]> {
  const f = filters(q, 6);
  let cond = f.sql;
  const args = [lo.ms, lo.seq, hi.ms, hi.seq, limit, ...f.args];
  if (text) {
    const t = textCondition(text, 6 + f.args.length);
    cond += t.sql;
    args.push(...t.args);
  }
  const statement = `SELECT ${SELECT_COLUMNS} FROM events
    WHERE ms >= $1 AND ms <= $3 AND (ms, seq) > ($1, $2) AND (ms, seq) <= ($3, $4)${cond}
    ORDER BY ms, seq LIMIT $5`;
  return rows(sql, statement, args);
}

/** Rows scanned per step when `q` is checked in Node. */
const SCAN_PAGE = 1000;

/** {@link select} for a range of days without tokens: rows read in order, `q` checked by `matchesText`. */
async function scan(sql: Sql, q: Filters, lo: EventId, hi: EventId, want: number, tq: TextQuery): Promise<EventRowLike[]> {
  const out: EventRowLike[] = [];
  let at = lo;
  for (;;) {
    const got = await select(sql, q, at, hi, SCAN_PAGE, null);
    for (const r of got) {
      if (!matchesText(tq, r.value)) continue;
      out.push(r);
      if (out.length >= want) return out;
    }
    const last = got[got.length - 1];
    if (got.length < SCAN_PAGE || !last) return out;
    at = { ms: last.ms, seq: last.seq };
  }
}

/**
 * Up to `want` rows of `q` in `(lo, hi]`, in id order. With a `q`, the range is cut at the days
 * without tokens: the stretches between them are searched in SQL on the tokens (the index), those
 * days by {@link scan}.
 */
export async function findRows(sql: Sql, q: Filters, lo: EventId, hi: EventId, want: number): Promise<EventRowLike[]> {
  const tq = parseTextQuery(q.q);
  if (!tq) return select(sql, q, lo, hi, want, null);
  const out: EventRowLike[] = [];
  let at = lo;
  const take = async (until: EventId, scanned: boolean) => {
    if (at.ms > until.ms || (at.ms === until.ms && at.seq >= until.seq)) return;
    const got = scanned ? await scan(sql, q, at, until, want - out.length, tq) : await select(sql, q, at, until, want - out.length, tq);
    for (const r of got) out.push(r);
    at = until;
  };
  for (const day of await unindexedDays(sql)) {
    const from = dayStartMs(String(day));
    const to = from + DAY_MS; // exclusive
    if (to - 1 < at.ms) continue; // the day ends before the range
    if (from > hi.ms) break;
    await take(min({ ms: from - 1, seq: NO_BOUND }, hi), false);
    if (out.length >= want) return out;
    await take(min({ ms: to - 1, seq: NO_BOUND }, hi), true);
    if (out.length >= want) return out;
  }
  await take(hi, false);
  return out;
}

function min(a: EventId, b: EventId): EventId {
  return a.ms < b.ms || (a.ms === b.ms && a.seq <= b.seq) ? a : b;
}

/** Stored rows of `q`, in id order, up to `limit` + 1 (to tell whether a page follows). */
export async function readEventRows(sql: Sql, q: EventsQuery): Promise<{ rows: EventRowLike[]; next: string | null }> {
  const lo = q.after ?? { ms: -1, seq: -1 };
  const hi = q.until ?? { ms: NO_BOUND, seq: NO_BOUND };
  if (lo.ms > hi.ms || (lo.ms === hi.ms && lo.seq >= hi.seq)) return { rows: [], next: null };
  let f: Filters = q;
  if (q.session === undefined) {
    const sessions = await candidateSessions(sql, q);
    if (sessions !== null && sessions.length === 0) return { rows: [], next: null };
    if (sessions !== null) f = { ...q, sessions };
  }
  return page(await findRows(sql, f, lo, hi, q.limit + 1), q.limit);
}

/** A field filter narrows a read to its sessions when it leaves at most this many (as the embedded store). */
export const MAX_CANDIDATE_SESSIONS = 64;

/**
 * The sessions whose summaries say they have events with every requested key/step/component/
 * user/terminal/level: null when no filter narrows to {@link MAX_CANDIDATE_SESSIONS} or fewer
 * (the read then walks ids and checks each row), [] when none can match. The summaries are
 * committed with their events, so every event up to a tail's watermark is in them.
 */
async function candidateSessions(sql: Sql, q: EventsQuery): Promise<string[] | null> {
  const cap = MAX_CANDIDATE_SESSIONS + 1;
  const lists: string[][] = [];
  for (const col of FILTER_COLUMNS) {
    const v = q[col];
    if (v === undefined) continue;
    const value = pgText(v);
    const got =
      col === 'key'
        ? await sql<{ session: string }[]>`SELECT DISTINCT session FROM session_latest WHERE key = ${value} LIMIT ${cap}`
        : await sql<{ session: string }[]>`SELECT DISTINCT session FROM session_fields WHERE field = ${col} AND value = ${value} LIMIT ${cap}`;
    if (got.length === 0) return [];
    if (got.length < cap) lists.push(got.map((r) => r.session));
  }
  if (lists.length === 0) return null;
  lists.sort((a, b) => a.length - b.length);
  let out = lists[0] as string[];
  for (const other of lists.slice(1)) {
    const keep = new Set(other);
    out = out.filter((s) => keep.has(s));
  }
  return out;
}

function page(got: EventRowLike[], limit: number): { rows: EventRowLike[]; next: string | null } {
  const more = got.length > limit;
  if (more) got.length = limit;
  const last = got[got.length - 1];
  return { rows: got, next: more && last ? `${last.ms}-${last.seq}` : null };
}

export async function readEvents(sql: Sql, q: EventsQuery): Promise<EventPage> {
  const { rows: got, next } = await readEventRows(sql, q);
  return { events: got.map(rowToEvent), next };
}

export async function readSession(sql: Sql, q: SessionQuery): Promise<EventPage> {
  if (q.before) return readSessionBefore(sql, q, q.before);
  if (q.q !== undefined && q.q.trim() !== '') return readEvents(sql, { ...q, until: null });
  const lo = q.after ?? { ms: -1, seq: -1 };
  const f = filters({ key: q.key, step: q.step }, 5);
  const text = `SELECT ${SELECT_COLUMNS} FROM events
    WHERE session = $1 AND ms >= $2 AND (ms, seq) > ($2, $3)${f.sql}
    ORDER BY ms, seq LIMIT $4`;
  const { rows: got, next } = page(await rows(sql, text, [pgText(q.session), lo.ms, lo.seq, q.limit + 1, ...f.args]), q.limit);
  return { events: got.map(rowToEvent), next };
}

/** The `limit` events of a session just before `before`, in id order (read backwards on the index). */
async function readSessionBefore(sql: Sql, q: SessionQuery, before: EventId): Promise<EventPage> {
  const f = filters({ key: q.key, step: q.step }, 5);
  const text = `SELECT ${SELECT_COLUMNS} FROM events
    WHERE session = $1 AND ms <= $2 AND (ms, seq) < ($2, $3)${f.sql}
    ORDER BY ms DESC, seq DESC LIMIT $4`;
  const got = (await rows(sql, text, [pgText(q.session), before.ms, before.seq, q.limit + 1, ...f.args])).reverse();
  const more = got.length > q.limit;
  if (more) got.shift();
  const events = got.map(rowToEvent);
  const last = events[events.length - 1];
  // Reading on after the last event returned gives the rest: the events from `before` on.
  return { events, next: last ? last.id : null, prev: more && events[0] ? events[0].id : null };
}

/** End events are read this many at a time (a session may have many `step.exit` that are not final). */
const END_PAGE = 256;

export async function sessionEnd(sql: Sql, session: string, after: EventId | null, until: EventId | null): Promise<SessionEnd> {
  let lo = after ?? { ms: -1, seq: -1 };
  const hi = until ?? { ms: NO_BOUND, seq: NO_BOUND };
  const s = pgText(session);
  const firstSql = `SELECT ms, seq, key, value, vjson FROM events
    WHERE session = $1 AND ms >= $2 AND ms <= $4 AND (ms, seq) > ($2, $3) AND (ms, seq) <= ($4, $5)
      AND key IN ('${SESSION_END_KEY}', '${STEP_EXIT_KEY}')
    ORDER BY ms, seq LIMIT ${END_PAGE}`;
  while (lo.ms < hi.ms || (lo.ms === hi.ms && lo.seq < hi.seq)) {
    const got = await rows(sql, firstSql, [s, lo.ms, lo.seq, hi.ms, hi.seq]);
    for (const r of got) if (isSessionEnd(r.key, r.value, r.vjson)) return { first: `${r.ms}-${r.seq}`, endedAt: null };
    const last = got[got.length - 1];
    if (got.length < END_PAGE || !last) break;
    lo = { ms: last.ms, seq: last.seq };
  }
  // No end in the range: the session has still ended if its newest event up to `until` is an end.
  const lastSql = `SELECT ms, seq, key, value, vjson FROM events
    WHERE session = $1 AND ms <= $2 AND (ms, seq) <= ($2, $3) ORDER BY ms DESC, seq DESC LIMIT 1`;
  const [r] = await rows(sql, lastSql, [s, hi.ms, hi.seq]);
  if (!r) return { first: null, endedAt: null };
  return { first: null, endedAt: isSessionEnd(r.key, r.value, r.vjson) ? `${r.ms}-${r.seq}` : null };
}

export async function lastId(sql: Sql): Promise<EventId | null> {
  const [r] = await sql<{ ms: number; seq: number }[]>`SELECT ms, seq FROM events ORDER BY ms DESC, seq DESC LIMIT 1`;
  return r ? { ms: r.ms, seq: r.seq } : null;
}
