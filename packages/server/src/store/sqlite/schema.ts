/**
 * One SQLite file per UTC day: `<dataDir>/events-YYYYMMDD.db` (SPEC §6 — retention drops whole
 * files). Rows are inserted in id order, so rowid order is id order inside a file.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EventColumns } from '../../batch/index.js';
import { sleepThisThread } from './thread-priority.js';

const FILE_RE = /^events-(\d{8})\.db$/;

export function dayFile(dataDir: string, day: string): string {
  return join(dataDir, `events-${day}.db`);
}

/** A day (`YYYYMMDD`) as days since the epoch. */
export function dayNumber(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8))) / 86_400_000;
}

/**
 * Creates a file derived from a day file (its index file, its session chunk file) with its
 * schema and a watermark of 0 (`schema` makes both), if it does not exist. Durable when it returns.
 */
export function createDerivedFile(path: string, synchronous: 'normal' | 'full', schema: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    applyPragmas(db, synchronous);
    schema(db);
  } finally {
    db.close();
  }
}

/**
 * Attaches the day file a derived file follows as `day`. ATTACH creates a missing file, so a day
 * file archived since the caller looked would come back empty: that is undone, the connection
 * closed, and an error thrown.
 */
export function attachDayFile(db: Database.Database, dayPath: string): void {
  db.prepare('ATTACH ? AS day').run(dayPath);
  if (db.prepare("SELECT 1 FROM day.sqlite_master WHERE name = 'events'").get() !== undefined) return;
  db.exec('DETACH day');
  db.close();
  if (statSync(dayPath, { throwIfNoEntry: false })?.size === 0) rmSync(dayPath, { force: true });
  throw new Error(`${dayPath} has no events table (archived meanwhile?)`);
}

/** Removes a SQLite file with its WAL and shared-memory files (`suffixes`: which of them). */
export function removeDb(path: string, suffixes = ['', '-wal', '-shm']): void {
  for (const suffix of suffixes) rmSync(`${path}${suffix}`, { force: true });
}

/** Days present in `dataDir`, oldest first. */
export function listDays(dataDir: string): string[] {
  const days: string[] = [];
  for (const name of readdirSync(dataDir)) {
    const m = FILE_RE.exec(name);
    if (m?.[1]) days.push(m[1]);
  }
  return days.sort();
}

/**
 * Columns: `ms`/`seq` are the id; `vjson` says whether `value` is JSON text or a plain string;
 * `ts` is NULL when the producer sent none (it then reads as the receive time, `ms`).
 * The metadata columns are first-class so later indexes (component, user, terminal) need no
 * migration.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  ms        INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  session   TEXT    NOT NULL,
  key       TEXT    NOT NULL,
  value     TEXT    NOT NULL,
  vjson     INTEGER NOT NULL,
  ts        INTEGER,
  component TEXT,
  user      TEXT,
  terminal  TEXT,
  step      TEXT,
  level     TEXT,
  attrs     TEXT,
  producer  TEXT,
  pseq      INTEGER
);
CREATE INDEX IF NOT EXISTS events_session_id ON events (session, ms, seq);
-- Idempotency marks: the highest seq committed per producer (see writer-worker.ts).
CREATE TABLE IF NOT EXISTS producers (
  producer  TEXT    PRIMARY KEY,
  seq       INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * WAL lets readers in other threads run beside the writer. synchronous=NORMAL in WAL mode makes a
 * commit durable against a crash of this process (kill -9): the WAL frames are written to the OS
 * before COMMIT returns; only an OS crash or power loss can lose the last transactions. Set
 * `sqliteSynchronous: "full"` to fsync every commit instead.
 */
export function applyPragmas(db: Database.Database, synchronous: 'normal' | 'full'): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('cache_size = -16000');
}

/** How long a write waits for a lock held by another connection (a checkpoint, an archive, a restore). */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Runs a write transaction, again while it fails with SQLITE_BUSY, for up to BUSY_TIMEOUT_MS of
 * wall-clock time. SQLite's own busy wait (busy_timeout) counts the sleeps it asked for, not the
 * time that passed, and a signal ends each sleep early: under `node --cpu-prof` (SIGPROF every
 * millisecond) its 5 s came to ~70 ms, and every write behind a checkpoint's 60-100 ms answered
 * 500 ("database is locked"). A transaction that failed was rolled back whole, so running it
 * again is safe. Only for threads that may block (not the main thread).
 */
export function retryBusy<T>(write: () => T): T {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      return write();
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() >= deadline) throw err;
      sleepThisThread(2);
    }
  }
}

export const SELECT_COLUMNS = 'ms, seq, session, key, value, vjson, ts, component, user, terminal, step, level, attrs, producer, pseq';

/**
 * Rows per INSERT statement of the writer. A statement per row crosses from JavaScript into SQLite
 * and back once per event (15 values bound, a result object made). In `bench micro` (the writer's
 * INSERT of the ingest workload, 1000 rows per transaction, interleaved with the old way in one
 * process) 32 rows per statement took 0.91–0.96× the CPU per row of one row per statement (3.01 /
 * 3.05 against 3.14 / 3.34 µs); 8 rows 0.94×; 128 rows 1.19× (a statement of 1,920 values costs
 * more to run than it saves). 32 × 15 values stay far below SQLite's limit (32,766).
 *
 * The values are passed as arguments (`run(...values)`), not as one array: better-sqlite3 reads an
 * array's elements through V8's generic property lookup, one call per value, where arguments are
 * read directly. A profile of the writer under `bench ingest-http` had that lookup at ~15 % of the
 * INSERT's time; binding as arguments took 0.83–0.90× the CPU per row of binding an array (the
 * ingest workload's rows, 1000 per transaction, interleaved in one process, 2026-12-07).
 */
export const INSERT_ROWS = 32;

const EVENT_ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
const EVENT_VALUES = 15;

/**
 * The day file's row insert: stores rows `rows` (indexes into `c`, ascending) under their ids
 * (`ms`, `seq`), `rowsPerStatement` rows per statement (the rest one by one), and returns the last
 * one's rowid (-1 for none). The rows of one call get consecutive rowids (the writer is the file's
 * only writer, and a new rowid is the largest plus one), so the first is the returned one minus
 * `rows.length - 1`. The writer thread's one way to add events (the micro benchmark times the
 * same; it and the SQLite baseline also time `rowsPerStatement` 1, as the writer did before).
 */
export function prepareEventInsert(
  db: Database.Database,
  rowsPerStatement = INSERT_ROWS,
): (c: EventColumns, ms: Float64Array, seq: Float64Array, rows: readonly number[]) => number {
  const sql = (n: number) => `INSERT INTO events (${SELECT_COLUMNS}) VALUES ${Array(n).fill(EVENT_ROW).join(', ')}`;
  const one = db.prepare(sql(1));
  const many = rowsPerStatement === 1 ? one : db.prepare(sql(rowsPerStatement));
  const oneArgs: unknown[] = new Array(EVENT_VALUES);
  const manyArgs: unknown[] = new Array(EVENT_VALUES * rowsPerStatement);
  const put = (args: unknown[], at: number, c: EventColumns, i: number, ms: Float64Array, seq: Float64Array) => {
    args[at] = ms[i];
    args[at + 1] = seq[i];
    args[at + 2] = c.session[i];
    args[at + 3] = c.key[i];
    args[at + 4] = c.value[i];
    args[at + 5] = c.vjson[i];
    args[at + 6] = c.ts[i];
    args[at + 7] = c.component[i];
    args[at + 8] = c.user[i];
    args[at + 9] = c.terminal[i];
    args[at + 10] = c.step[i];
    args[at + 11] = c.level[i];
    args[at + 12] = c.attrs[i];
    args[at + 13] = c.producer[i];
    args[at + 14] = c.pseq[i];
  };
  return (c, ms, seq, rows) => {
    let last = -1;
    let k = 0;
    for (; k + rowsPerStatement <= rows.length; k += rowsPerStatement) {
      for (let j = 0; j < rowsPerStatement; j++) put(manyArgs, j * EVENT_VALUES, c, rows[k + j] as number, ms, seq);
      last = Number(many.run(...manyArgs).lastInsertRowid);
    }
    for (; k < rows.length; k++) {
      put(oneArgs, 0, c, rows[k] as number, ms, seq);
      last = Number(one.run(...oneArgs).lastInsertRowid);
    }
    return last;
  };
}
