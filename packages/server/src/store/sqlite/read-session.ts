/**
 * Reading one session's events in a reader thread (`GET /v1/sessions/:s/events`): pages in id
 * order after a cursor, or the page just before one, across day partitions.
 *
 * In each day file the session's rows are found through its runs (session-runs.ts): a few rowid
 * range scans over consecutive pages instead of a seek per row through the (session, ms, seq)
 * index. Day files without runs (a file between its creation and its tables) are read through the
 * index, as are searches (`q`, read-events.ts).
 *
 * Rows are read as arrays (raw statements): better-sqlite3 returns 10,000 rows as arrays in about
 * half the time it takes to return them as objects.
 */
import type { EventId } from '@logsrv/protocol';
import { dayOf } from '@logsrv/protocol';
import type Database from 'better-sqlite3';
import type { SessionQuery } from '../store.js';
import type { ReadContext } from './read-events.js';
import { isNoSuchTable, NO_BOUND, rowidAfter, sessionRows as sessionCount } from './read-events.js';
import { decodeRuns } from './session-runs.js';

export interface SessionReadContext extends ReadContext {
  /** A cached prepared statement in raw mode (rows as arrays). */
  rawStmt(day: string, db: Database.Database, sql: string): Database.Statement;
}

/** A page of rows (arrays of the columns asked for, `ms` and `seq` first) and its cursors. */
export interface RowPage {
  rows: unknown[][];
  next: string | null;
  prev?: string | null;
}

export type Dir = '>' | '<';

const idOf = (a: unknown[]): string => `${a[0] as number}-${a[1] as number}`;

/**
 * One page of `q.session`'s events as row arrays of `cols` (a column list starting with `ms, seq`):
 * after `q.after` forwards, or the `q.limit` events just before `q.before`. Not for `q` searches.
 */
export function readSessionRows(ctx: SessionReadContext, q: SessionQuery, cols: string): RowPage {
  const want = q.limit + 1; // one extra row tells whether another page follows (or precedes)
  if (q.before) {
    const endDay = dayOf(q.before.ms);
    const days = ctx
      .days()
      .filter((d) => d <= endDay)
      .reverse();
    const rows = sessionRows(ctx, q, cols, days, '<', q.before, want).reverse();
    const more = rows.length > q.limit;
    if (more) rows.shift();
    const last = rows[rows.length - 1];
    const first = rows[0];
    // Reading on after the last event returned gives the rest: the events from `before` on.
    return { rows, next: last ? idOf(last) : null, prev: more && first ? idOf(first) : null };
  }
  const startDay = q.after ? dayOf(q.after.ms) : '';
  const days = ctx.days().filter((d) => d >= startDay);
  const rows = sessionRows(ctx, q, cols, days, '>', q.after ?? { ms: -1, seq: -1 }, want);
  const more = rows.length > q.limit;
  if (more) rows.length = q.limit;
  const last = rows[rows.length - 1];
  return { rows, next: more && last ? idOf(last) : null };
}

/**
 * Up to `want` rows of `q.session` (and its key/step filters) beyond `bound`, going through `days`
 * in the order given: ascending ids after it (`>`), or descending ids before it (`<`).
 */
function sessionRows(ctx: SessionReadContext, q: SessionQuery, cols: string, days: string[], dir: Dir, bound: EventId, want: number): unknown[][] {
  const out: unknown[][] = [];
  for (const day of days) {
    if (out.length >= want) break;
    const db = ctx.conn(day);
    if (!db) continue;
    try {
      // One read transaction: the coverage check and the scans see the same commits.
      const got = db.transaction(
        () => byRuns(ctx, day, db, q, cols, dir, bound, want - out.length) ?? byIndex(ctx, day, db, q, cols, dir, bound, want - out.length),
      )();
      for (const r of got) out.push(r);
    } catch (err) {
      // The writer creates a day's file and then its tables; a reader may see the file between.
      if (isNoSuchTable(err)) continue;
      throw err;
    }
  }
  return out;
}

function filters(q: Pick<SessionQuery, 'key' | 'step'>): { sql: string; args: unknown[] } {
  let sql = '';
  const args: unknown[] = [];
  if (q.key !== undefined) {
    sql += ' AND key = ?';
    args.push(q.key);
  }
  if (q.step !== undefined) {
    sql += ' AND step = ?';
    args.push(q.step);
  }
  return { sql, args };
}

/**
 * Forwards: up to `want` rows of `q.session` in `day` after `bound` and from rowid `minRowid` on
 * (the rows after a day's session chunks, read-session-chunks.ts). Inside the caller's transaction.
 */
export function dayRowsFrom(
  ctx: SessionReadContext,
  day: string,
  db: Database.Database,
  q: SessionQuery,
  cols: string,
  bound: EventId,
  want: number,
  minRowid: number,
): unknown[][] {
  return byRuns(ctx, day, db, q, cols, '>', bound, want, minRowid) ?? byIndex(ctx, day, db, q, cols, '>', bound, want, minRowid);
}

/** The session's rows of a day through the (session, ms, seq) index: a seek per row. */
function byIndex(
  ctx: SessionReadContext,
  day: string,
  db: Database.Database,
  q: SessionQuery,
  cols: string,
  dir: Dir,
  bound: EventId,
  want: number,
  minRowid = 0,
): unknown[][] {
  const f = filters(q);
  const order = dir === '>' ? 'ms, seq' : 'ms DESC, seq DESC';
  const floor = minRowid > 0 ? ' AND rowid >= ?' : '';
  const sql = `SELECT ${cols} FROM events WHERE session = ? AND (ms, seq) ${dir} (?, ?)${floor}${f.sql} ORDER BY ${order} LIMIT ?`;
  const args = minRowid > 0 ? [minRowid, ...f.args] : f.args;
  return ctx.rawStmt(day, db, sql).all(q.session, bound.ms, bound.seq, ...args, want) as unknown[][];
}

/**
 * One run's rows: a range of rowids, checked for the session and filters row by row. `+session`
 * keeps SQLite off the (session, ms, seq) index: with no statistics it prefers that index to a
 * rowid range, and then walks every index entry of the session for each run — in a day holding one
 * session of 754k events, a `key` filter read 600 runs × 754k entries (37–60 s) instead of 754k rows.
 */
export function runScanSql(cols: string, q: Pick<SessionQuery, 'key' | 'step'>, dir: Dir): string {
  return `SELECT ${cols} FROM events WHERE rowid BETWEEN ? AND ? AND +session = ?${filters(q).sql} ORDER BY rowid${dir === '>' ? '' : ' DESC'} LIMIT ?`;
}

/** Entries read at a time; each names at least one row. */
const ENTRY_PAGE = 256;
/**
 * An entry whose rows fill at least this share of its span is read in one scan of the span
 * (skipping the other sessions' rows in it); a sparser one run by run.
 */
const DENSE = 0.25;

/**
 * The session's rows of a day through its runs: entries in rowid order from the cursor's, each
 * read as rowid range scans. Null when the day file has no runs, or they do not cover all the
 * session's rows there (then read by index).
 */
function byRuns(
  ctx: SessionReadContext,
  day: string,
  db: Database.Database,
  q: SessionQuery,
  cols: string,
  dir: Dir,
  bound: EventId,
  want: number,
  minRowid = 0,
): unknown[][] | null {
  let entries: Database.Statement;
  let containing: Database.Statement;
  try {
    const covered = ctx.stmt(day, db, 'SELECT sum(n) FROM session_runs WHERE session = ?').pluck().get(q.session) as number | null;
    if (covered === null || covered !== sessionCount(ctx, day, db, q.session)) return null;
    entries = ctx.rawStmt(
      day,
      db,
      dir === '>'
        ? 'SELECT lo, hi, runs FROM session_runs WHERE session = ? AND lo >= ? ORDER BY lo LIMIT ?'
        : 'SELECT lo, hi, runs FROM session_runs WHERE session = ? AND lo < ? ORDER BY lo DESC LIMIT ?',
    );
    containing = ctx.stmt(day, db, 'SELECT max(lo) FROM session_runs WHERE session = ? AND lo <= ?').pluck();
  } catch (err) {
    if (isNoSuchTable(err)) return null;
    throw err;
  }
  // The day's rowids beyond the cursor: [from, to).
  const inDay = dayOf(bound.ms) === day;
  let from = 0;
  let to = NO_BOUND;
  if (inDay && dir === '>') from = rowidAfter(ctx, day, db, bound);
  from = Math.max(from, minRowid);
  // Rows with an id below (ms, seq) are the rows with an id up to (ms, seq - 1).
  if (inDay && dir === '<') to = rowidAfter(ctx, day, db, { ms: bound.ms, seq: bound.seq - 1 });
  const scan = ctx.rawStmt(day, db, runScanSql(cols, q, dir));
  const args = filters(q).args;
  const out: unknown[][] = [];
  const read = (a: number, b: number) => {
    const lo = Math.max(a, from);
    const hi = Math.min(b, to - 1);
    if (lo > hi) return;
    for (const r of scan.all(lo, hi, q.session, ...args, want - out.length) as unknown[][]) out.push(r);
  };
  // Forwards from the entry holding `from` (the last one starting at or before it).
  let at: number = dir === '>' ? ((containing.get(q.session, from) as number | null) ?? 0) : to;
  const runs: number[] = [];
  while (out.length < want) {
    const page = entries.all(q.session, at, ENTRY_PAGE) as [number, number, Uint8Array | null][];
    for (const [lo, hi, blob] of page) {
      if (out.length >= want) break;
      runs.length = 0;
      decodeRuns(lo, hi, blob, runs);
      let rows = 0;
      for (let i = 0; i < runs.length; i += 2) rows += (runs[i + 1] as number) - (runs[i] as number) + 1;
      if (runs.length === 2 || rows >= DENSE * (hi - lo + 1)) read(lo, hi);
      else if (dir === '>') for (let i = 0; i < runs.length && out.length < want; i += 2) read(runs[i] as number, runs[i + 1] as number);
      else for (let i = runs.length - 2; i >= 0 && out.length < want; i -= 2) read(runs[i] as number, runs[i + 1] as number);
    }
    if (page.length < ENTRY_PAGE) break;
    const last = page[page.length - 1] as [number, number, Uint8Array | null];
    at = dir === '>' ? last[0] + 1 : last[0];
  }
  return out;
}
