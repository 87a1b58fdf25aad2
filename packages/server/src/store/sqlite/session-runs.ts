/**
 * Where a session's rows lie in a day file: `session_runs`, one row per session and batch with the
 * first and last rowid the batch gave the session, and — when its rows there are not one
 * contiguous stretch — the runs of consecutive rowids between them.
 *
 * Why: a day file holds its rows in id order, so a session's rows are spread over the file in the
 * runs its producer's batches arrived in, interleaved with other sessions. Read through the
 * (session, ms, seq) index, every row is a seek of its own; read through its runs, a session is a
 * few rowid range scans over consecutive pages (read-session.ts).
 *
 * Written by the writer thread in the same transaction as the rows (day-index.ts): one insert per
 * session and batch, like the session summary it sits beside — but only where runs pay: a session
 * with few rows in a batch, or rows scattered one by one among other sessions', gets no entry (see
 * {@link worthRuns}); an insert per such session would cost the writer more than the index it
 * spares costs the reader. A session's day is read through its runs only when its entries cover
 * all its rows there (`sum(n)` equals its summary's count), else through the index.
 */
import type Database from 'better-sqlite3';

export const SESSION_RUNS_SCHEMA = `
CREATE TABLE IF NOT EXISTS session_runs (
  session TEXT    NOT NULL,
  lo      INTEGER NOT NULL,
  hi      INTEGER NOT NULL,
  n       INTEGER NOT NULL, -- the session's rows in [lo, hi]
  -- NULL when every row in [lo, hi] is the session's; else the runs, see encodeRuns.
  runs    BLOB,
  PRIMARY KEY (session, lo)
) WITHOUT ROWID;
`;

/**
 * Runs `[start0, end0, start1, end1, …]` (ascending, inclusive) as a blob: for each run its start
 * and its end, as 32-bit little-endian offsets from the first start. A batch never spans 2^31 rows.
 */
export function encodeRuns(runs: number[]): Buffer {
  const lo = runs[0] as number;
  const out = Buffer.allocUnsafe(runs.length * 4);
  for (let i = 0; i < runs.length; i++) out.writeInt32LE((runs[i] as number) - lo, i * 4);
  return out;
}

/** Appends the runs of an entry to `out` as inclusive [start, end] pairs, ascending. */
export function decodeRuns(lo: number, hi: number, blob: Uint8Array | null, out: number[]): void {
  if (blob === null) {
    out.push(lo, hi);
    return;
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < blob.byteLength; i += 4) out.push(lo + view.getInt32(i, true));
}

/** Extends a session's runs by `row` (rows arrive ascending). */
export function addRow(runs: number[], row: number): void {
  const n = runs.length;
  if (n > 0 && runs[n - 1] === row - 1) runs[n - 1] = row;
  else runs.push(row, row);
}

/** A batch's rows of a session get an entry from this many on. */
const MIN_ROWS = 8;

/**
 * Whether a session's `rows` in a batch, in `runs` (flat pairs), get an entry: enough rows, in
 * runs of two rows or more on average. Measured in-process (400 sessions alternating line by line
 * in batches of 1000): an entry for every session cost the writer +67% CPU per event.
 */
export function worthRuns(rows: number, runs: number[]): boolean {
  return rows >= MIN_ROWS && rows >= runs.length;
}

/** The writer's statement: records a session's runs of one batch, when {@link worthRuns}. */
export function prepareRunsWriter(db: Database.Database): (session: string, runs: number[], rows: number) => void {
  const insert = db.prepare('INSERT INTO session_runs (session, lo, hi, n, runs) VALUES (?, ?, ?, ?, ?)');
  return (session, runs, rows) => {
    if (!worthRuns(rows, runs)) return;
    insert.run(session, runs[0], runs[runs.length - 1], rows, runs.length === 2 ? null : encodeRuns(runs));
  };
}

/** Rows per entry when runs are built from a file's events (as if written in batches of this size). */
const BACKFILL_ROWS = 10_000;

/**
 * Builds `session_runs` from a day file's events: only for files written before it existed
 * (day schema < 4). One pass over (rowid, session) in rowid order, {@link BACKFILL_ROWS} rows at a
 * time (each its own entries, as a batch's), so memory stays bounded.
 */
export function backfillRuns(db: Database.Database): void {
  db.exec('DELETE FROM session_runs');
  const write = prepareRunsWriter(db);
  const next = db.prepare(`SELECT rowid, session FROM events WHERE rowid > ? ORDER BY rowid LIMIT ${BACKFILL_ROWS}`).raw(true);
  for (let after = 0; ; ) {
    const rows = next.all(after) as [number, string][];
    if (rows.length === 0) break;
    const open = new Map<string, { runs: number[]; n: number }>();
    for (const [row, session] of rows) {
      let e = open.get(session);
      if (e === undefined) {
        e = { runs: [], n: 0 };
        open.set(session, e);
      }
      addRow(e.runs, row);
      e.n++;
    }
    for (const [session, e] of open) write(session, e.runs, e.n);
    after = (rows[rows.length - 1] as [number, string])[0];
  }
}
