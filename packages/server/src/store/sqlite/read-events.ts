/**
 * Reading events by filter and full-text query in a reader thread (`GET /v1/events`, tail
 * history, `q` on a session's events). Results are in id order over `(after, until]`.
 *
 * Each day file is read with the cheapest of three plans, chosen from what the day's summary
 * tables and index say about the filters:
 * - by session: the (session, ms, seq) index of each candidate session — the `session` filter, or
 *   the few sessions (≤ {@link MAX_CANDIDATE_SESSIONS}) whose summaries say they have events with
 *   the requested user/terminal/component/level/step/key — merged in id order;
 * - by index: FTS5 matches in rowid (= id) order, joined to their rows, when `q` is given and
 *   matches fewer rows of the day than the candidate sessions have (counted up to that number);
 * - by rowid: the day's rows in order from the cursor, each row checked.
 * Every plan returns the same rows: `q` means one thing whether FTS5 or {@link matchesText} (on
 * days without an index, and inside a session) evaluates it — see search/text-query.ts.
 */
import type { EventId } from '@logsrv/protocol';
import { dayOf } from '@logsrv/protocol';
import type Database from 'better-sqlite3';
import type { TextQuery } from '../../search/index.js';
import { ftsExpression, matchesText, parseTextQuery } from '../../search/index.js';
import type { EventRowLike } from '../rows.js';
import { rowToEvent } from '../rows.js';
import type { EventPage, EventsQuery } from '../store.js';
import { CHUNK_NAMES_SQL, chunkStartsOf, indexTable } from './day-index.js';
import { SELECT_COLUMNS } from './schema.js';

/** What a reader thread gives the read functions: its day list and its cached connections. */
export interface ReadContext {
  /** Day partitions present, oldest first. */
  days(): string[];
  /** A read-only connection to a day's file, or null when the file does not exist. */
  conn(day: string): Database.Database | null;
  /** A cached prepared statement of a day's connection. */
  stmt(day: string, db: Database.Database, sql: string): Database.Statement;
  /** Whether the day's connection has its index file (index-file.ts) attached as `ix`. */
  indexAttached(day: string): boolean;
}

export const NO_BOUND = Number.MAX_SAFE_INTEGER;
/** A field filter narrows a day to candidate sessions when it leaves at most this many. */
export const MAX_CANDIDATE_SESSIONS = 64;
const FILTER_COLUMNS = ['key', 'step', 'component', 'user', 'terminal', 'level'] as const;
type FilterColumn = (typeof FILTER_COLUMNS)[number];
/** Filters answered by session_fields (`key` is answered by session_latest). */
const FIELD_FILTERS = new Set<FilterColumn>(['step', 'component', 'user', 'terminal', 'level']);
const FTS_COLUMNS = SELECT_COLUMNS.split(', ')
  .map((c) => `e.${c}`)
  .join(', ');

export function isNoSuchTable(err: unknown): boolean {
  // The writer creates a day's file and then its tables; a reader may see the file between.
  return err instanceof Error && /no such table/.test(err.message);
}

const queries = new Map<string, TextQuery>();
/**
 * Defines `logsrv_match(q, value)`, {@link matchesText} for SQL, on a reader's connection to a day
 * file. Called once, when the connection is opened: better-sqlite3 refuses to define a function
 * while one of the connection's statements is being iterated, and a read may first need it there
 * (`GET /v1/sessions?q=…` walks a day's session summaries and checks each session's rows on the
 * same connection, scanning those past the index's watermark with it).
 */
export function defineMatchFunction(db: Database.Database): void {
  db.function('logsrv_match', { deterministic: true }, (q: unknown, value: unknown) => {
    let tq = queries.get(q as string);
    if (tq === undefined) {
      tq = parseTextQuery(q as string) as TextQuery;
      if (queries.size > 100) queries.clear();
      queries.set(q as string, tq);
    }
    return matchesText(tq, value as string) ? 1 : 0;
  });
}

/**
 * The smallest rowid p such that every row with rowid ≥ p has an id > `id` (and every row below
 * it an id ≤ `id`). Rows are inserted in id order, so id order is rowid order inside a day file
 * and a binary search over rowids finds the cursor's place without an index on (ms, seq):
 * ~log2(rows) primary-key seeks instead of a scan.
 */
export function rowidAfter(ctx: ReadContext, day: string, db: Database.Database, id: EventId): number {
  // Two statements: SQLite answers min(rowid) or max(rowid) alone from the b-tree's edge, but
  // `SELECT min(rowid), max(rowid)` together by scanning the table (1.2 s on a 3.3M-row day).
  const first = ctx.stmt(day, db, 'SELECT min(rowid) FROM events').pluck().get() as number | null;
  const last = ctx.stmt(day, db, 'SELECT max(rowid) FROM events').pluck().get() as number | null;
  if (first === null || last === null) return 1;
  const firstFrom = ctx.stmt(day, db, 'SELECT ms, seq FROM events WHERE rowid >= ? ORDER BY rowid LIMIT 1');
  let lo = first;
  let hi = last + 1; // the answer lies in [lo, hi]; at hi nothing follows, so the predicate holds
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const r = firstFrom.get(mid) as { ms: number; seq: number } | undefined;
    const after = !r || r.ms > id.ms || (r.ms === id.ms && r.seq > id.seq);
    if (after) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * A day's full-text index as a reader sees it: in the day file (schema ≤ 3, complete: written in
 * the events' transaction) or in its index file (index-file.ts), complete up to its watermark.
 */
export interface DayText {
  /** Where the chunk tables are: `main` (the day file) or `ix` (the attached index file). */
  schema: 'main' | 'ix';
  /** First rowids of the index chunks, ascending. */
  chunks: number[];
  /** Every row up to this rowid is indexed, none after it: those are checked with the matcher. */
  indexed: number;
  /** Rows after `indexed` exist (the index lags the day's commits). */
  lagging: boolean;
}

const IX_CHUNK_NAMES_SQL = CHUNK_NAMES_SQL.replace('FROM sqlite_master', 'FROM ix.sqlite_master');

/** The day's index; null when the day has none (written with `--search-index off`: scanned). */
export function dayText(ctx: ReadContext, day: string, db: Database.Database): DayText | null {
  const inFile = chunkStartsOf(ctx.stmt(day, db, CHUNK_NAMES_SQL).pluck().all() as string[]);
  if (inFile.length > 0) return { schema: 'main', chunks: inFile, indexed: NO_BOUND, lagging: false };
  if (!ctx.indexAttached(day)) return null;
  let indexed: number;
  let chunks: number[];
  try {
    // The watermark first, then the chunks: a chunk holding rows up to the watermark was created
    // in the transaction that set it, or before, so the list read after it has them all.
    indexed = (ctx.stmt(day, db, 'SELECT indexed FROM ix.index_state WHERE id = 1').pluck().get() as number | undefined) ?? 0;
    chunks = chunkStartsOf(ctx.stmt(day, db, IX_CHUNK_NAMES_SQL).pluck().all() as string[]);
  } catch (err) {
    if (isNoSuchTable(err)) return null; // not an index file (yet): scan the day
    throw err;
  }
  const last = (ctx.stmt(day, db, 'SELECT max(rowid) FROM events').pluck().get() as number | null) ?? 0;
  return { schema: 'ix', chunks, indexed, lagging: last > indexed };
}

/** The FROM and MATCH of chunk `start` of `text`'s index, its table aliased `f`. */
function chunkRef(text: DayText, start: number): { from: string; match: string } {
  const t = indexTable(start);
  return { from: `${text.schema}.${t} f`, match: `f.${t} MATCH ?` };
}

/**
 * How many indexed rows of the day match `tq`, counting no further than `cap`: the cost of the
 * count is bounded by the cap, so it can decide between plans whose cost it is compared with.
 */
export function indexCount(ctx: ReadContext, day: string, db: Database.Database, text: DayText, tq: TextQuery, cap: number): number {
  const expr = ftsExpression(tq);
  let n = 0;
  for (const k of text.chunks) {
    const c = chunkRef(text, k);
    n += (ctx.stmt(day, db, `SELECT count(*) AS n FROM (SELECT f.rowid FROM ${c.from} WHERE ${c.match} LIMIT ?)`).get(expr, cap - n) as { n: number }).n;
    if (n >= cap) return cap;
  }
  return n;
}

/** Events of `session` in a day file (from its summary; 0 when it has none there). */
export function sessionRows(ctx: ReadContext, day: string, db: Database.Database, session: string): number {
  const r = ctx.stmt(day, db, 'SELECT count FROM session_summary WHERE session = ?').get(session) as { count: number } | undefined;
  return r?.count ?? 0;
}

/**
 * Sessions that may hold events matching the field filters in this day: null when no filter
 * narrows to {@link MAX_CANDIDATE_SESSIONS} or fewer (read the day by rowid); [] when the day holds
 * none. Sessions with events of each requested value are intersected, smallest set first.
 */
function candidateSessions(ctx: ReadContext, day: string, db: Database.Database, q: EventsQuery): string[] | null {
  const lists: string[][] = [];
  const cap = MAX_CANDIDATE_SESSIONS + 1;
  const fieldSql = `SELECT session FROM session_fields WHERE field = ? AND value = ? LIMIT ${cap}`;
  const keySql = `SELECT session FROM session_latest WHERE key = ? LIMIT ${cap}`;
  for (const col of FILTER_COLUMNS) {
    const v = q[col];
    if (v === undefined) continue;
    const rows = (FIELD_FILTERS.has(col) ? ctx.stmt(day, db, fieldSql).all(col, v) : ctx.stmt(day, db, keySql).all(v)) as { session: string }[];
    if (rows.length === 0) return [];
    // A filter that matches more sessions than that is left to the row-by-row check.
    if (rows.length < cap) lists.push(rows.map((r) => r.session));
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

interface Range {
  lo: EventId;
  hi: EventId;
}

function filterSql(q: EventsQuery, prefix: string): { sql: string; args: unknown[] } {
  let sql = '';
  const args: unknown[] = [];
  for (const col of FILTER_COLUMNS) {
    const v = q[col];
    if (v === undefined) continue;
    sql += ` AND ${prefix}${col} = ?`;
    args.push(v);
  }
  return { sql, args };
}

function bySessions(ctx: ReadContext, day: string, db: Database.Database, sessions: string[], q: EventsQuery, r: Range, want: number): EventRowLike[] {
  const f = filterSql(q, '');
  const text = q.q !== undefined && q.q.trim() !== '';
  const sql = `SELECT ${SELECT_COLUMNS} FROM events WHERE session = ? AND (ms, seq) > (?, ?) AND (ms, seq) <= (?, ?)${f.sql}${text ? ' AND logsrv_match(?, value)' : ''} ORDER BY ms, seq LIMIT ?`;
  const s = ctx.stmt(day, db, sql);
  const out: EventRowLike[] = [];
  for (const session of sessions) {
    const args: unknown[] = [session, r.lo.ms, r.lo.seq, r.hi.ms, r.hi.seq, ...f.args];
    if (text) args.push(q.q);
    args.push(want);
    for (const row of s.all(...args) as EventRowLike[]) out.push(row);
  }
  if (sessions.length > 1) out.sort((a, b) => a.ms - b.ms || a.seq - b.seq);
  if (out.length > want) out.length = want;
  return out;
}

/** The day's rowid range of `(lo, hi]`: [from, to). */
function rowidRange(ctx: ReadContext, day: string, db: Database.Database, r: Range): [number, number] {
  const from = r.lo.ms >= 0 && dayOf(r.lo.ms) === day ? rowidAfter(ctx, day, db, r.lo) : 0;
  const to = r.hi.ms < NO_BOUND && dayOf(r.hi.ms) === day ? rowidAfter(ctx, day, db, r.hi) : NO_BOUND;
  return [from, to];
}

function byIndex(ctx: ReadContext, day: string, db: Database.Database, text: DayText, tq: TextQuery, q: EventsQuery, r: Range, want: number): EventRowLike[] {
  const [from, rangeTo] = rowidRange(ctx, day, db, r);
  // Rows past the index's watermark are read by scanning below.
  const to = Math.min(rangeTo, text.indexed + 1);
  const chunks = text.chunks;
  const f = filterSql(q, 'e.');
  const session = q.session !== undefined ? ' AND e.session = ?' : '';
  const expr = ftsExpression(tq);
  const out: EventRowLike[] = [];
  // From the chunk of the cursor on. In each, FTS5 drives: its matches come in rowid order within
  // the range, each joined to its row by rowid, and the LIMIT stops the walk — a common word costs
  // about `want` matches plus the skip to the cursor inside one chunk.
  for (let i = 0; i < chunks.length; i++) {
    const start = chunks[i] as number;
    const next = chunks[i + 1];
    if (next !== undefined && next <= from) continue; // the chunk ends before the range
    if (start >= to) break;
    const c = chunkRef(text, start);
    const sql = `SELECT ${FTS_COLUMNS} FROM ${c.from} JOIN events e ON e.rowid = f.rowid
      WHERE ${c.match} AND f.rowid >= ? AND f.rowid < ?${session}${f.sql} ORDER BY f.rowid LIMIT ?`;
    const args: unknown[] = [expr, from, to];
    if (q.session !== undefined) args.push(q.session);
    args.push(...f.args, want - out.length);
    for (const row of ctx.stmt(day, db, sql).all(...args) as EventRowLike[]) out.push(row);
    if (out.length >= want) break;
  }
  // The rows the index has not reached yet (at most the lag bound, index-file.ts), in order after
  // the indexed ones: checked one by one, as on a day without an index.
  if (out.length < want && rangeTo > text.indexed + 1) {
    for (const row of scanRange(ctx, day, db, q, Math.max(from, text.indexed + 1), rangeTo, want - out.length)) out.push(row);
  }
  return out;
}

function byRowid(ctx: ReadContext, day: string, db: Database.Database, q: EventsQuery, r: Range, want: number): EventRowLike[] {
  const [from, to] = rowidRange(ctx, day, db, r);
  return scanRange(ctx, day, db, q, from, to, want);
}

/** Up to `want` rows with rowid in [from, to) matching `q` (session, fields, text), each checked. */
function scanRange(ctx: ReadContext, day: string, db: Database.Database, q: EventsQuery, from: number, to: number, want: number): EventRowLike[] {
  const f = filterSql(q, '');
  const session = q.session !== undefined ? ' AND session = ?' : '';
  const text = q.q !== undefined && q.q.trim() !== '';
  const sql = `SELECT ${SELECT_COLUMNS} FROM events WHERE rowid >= ? AND rowid < ?${session}${f.sql}${text ? ' AND logsrv_match(?, value)' : ''} ORDER BY rowid LIMIT ?`;
  const args: unknown[] = [from, to];
  if (q.session !== undefined) args.push(q.session);
  args.push(...f.args);
  if (text) args.push(q.q);
  args.push(want);
  return ctx.stmt(day, db, sql).all(...args) as EventRowLike[];
}

/** Up to `want` rows of one day in `(lo, hi]` matching `q`, in id order, by the cheapest plan. */
export function readDay(ctx: ReadContext, day: string, db: Database.Database, q: EventsQuery, tq: TextQuery | null, r: Range, want: number): EventRowLike[] {
  const text = tq === null ? null : dayText(ctx, day, db);
  const indexed = tq !== null && text !== null;
  // No match in the index says nothing about rows it has not reached yet.
  if (indexed && !text.lagging && indexCount(ctx, day, db, text, tq, 1) === 0) return [];
  if (q.session !== undefined) {
    const n = sessionRows(ctx, day, db, q.session);
    if (n === 0) return [];
    // The index when the word is rarer in the whole day than the session's events are many.
    if (indexed && indexCount(ctx, day, db, text, tq, n) < n) return byIndex(ctx, day, db, text, tq, q, r, want);
    return bySessions(ctx, day, db, [q.session], q, r, want);
  }
  const candidates = candidateSessions(ctx, day, db, q);
  if (candidates !== null && candidates.length === 0) return [];
  if (indexed) {
    if (candidates !== null) {
      let rows = 0;
      for (const s of candidates) rows += sessionRows(ctx, day, db, s);
      if (indexCount(ctx, day, db, text, tq, rows) >= rows) return bySessions(ctx, day, db, candidates, q, r, want);
    }
    return byIndex(ctx, day, db, text, tq, q, r, want);
  }
  if (candidates !== null) return bySessions(ctx, day, db, candidates, q, r, want);
  return byRowid(ctx, day, db, q, r, want);
}

/** Events of all sessions matching the filters, in id order, across day partitions. */
export function readEvents(ctx: ReadContext, q: EventsQuery): EventPage {
  const { rows, next } = readEventRows(ctx, q);
  return { events: rows.map(rowToEvent), next };
}

/** {@link readEvents} as stored rows, for rendering in this thread (row-text.ts). */
export function readEventRows(ctx: ReadContext, q: EventsQuery): { rows: EventRowLike[]; next: string | null } {
  const want = q.limit + 1; // one extra row tells whether a next page exists
  const rows: EventRowLike[] = [];
  const lo = q.after ?? { ms: -1, seq: -1 };
  const hi = q.until ?? { ms: NO_BOUND, seq: NO_BOUND };
  if (lo.ms > hi.ms || (lo.ms === hi.ms && lo.seq >= hi.seq)) return { rows, next: null };
  const tq = parseTextQuery(q.q);
  const startDay = q.after ? dayOf(q.after.ms) : '';
  const endDay = q.until ? dayOf(q.until.ms) : '99999999';
  for (const day of ctx.days()) {
    if (day < startDay) continue;
    if (day > endDay) break;
    const db = ctx.conn(day);
    if (!db) continue;
    let got: EventRowLike[];
    try {
      got = readDay(ctx, day, db, q, tq, { lo, hi }, want - rows.length);
    } catch (err) {
      if (isNoSuchTable(err)) continue;
      throw err;
    }
    for (const r of got) rows.push(r);
    if (rows.length >= want) break;
  }
  const more = rows.length > q.limit;
  if (more) rows.length = q.limit;
  const last = rows[rows.length - 1];
  return { rows, next: more && last ? `${last.ms}-${last.seq}` : null };
}
