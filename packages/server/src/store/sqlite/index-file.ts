/**
 * A day's full-text index in a file of its own: `events-YYYYMMDD.fts.db` beside
 * `events-YYYYMMDD.db`, written by the index thread (index-worker.ts), not by the writer. SQLite
 * lets one connection write a file at a time, so an index in the day file made the writer thread
 * tokenize every value inside its commit (~40 % of its CPU per event); in its own file it is
 * written on the other core, after the commit, and ingest no longer waits for it.
 *
 * Layout: the same chunks as the in-file index of day schema 3 (day-index.ts: one FTS5 table per
 * `--search-chunk-rows` rows, named by the first rowid it holds), but contentless (`content = ''`:
 * the text stays in the day file only; a match is joined to its row by rowid) and without per-row
 * sizes (`columnsize = 0`: nothing here ranks); chunks made since 2026-12-06 merge their segments
 * 8 at a time ({@link INDEX_AUTOMERGE}; older ones keep FTS5's 4, and both are read alike).
 * `index_state.indexed` is the watermark: every row of the day up to that rowid is indexed, none
 * after it. It is written in the same transaction as the index rows, so after kill -9 the index
 * resumes from it and catches up from the day file.
 *
 * Contract for readers (read-events.ts): rows ≤ watermark through FTS5, rows after it by checking
 * them with the matcher (search/text-query.ts) — the same answer, whatever the lag. The writer
 * creates the file (watermark 0) before the day's first row, so a day has an index file iff it
 * was started with the index on; it is never given one later (it would be partial for hours).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stripEscapes } from '../../search/escapes.js';
import { TOKENIZER } from '../../search/index.js';
import { applyPragmas, attachDayFile, createDerivedFile } from './schema.js';

/**
 * How many nice values the index thread lowers itself below the process (Linux; lowering needs no
 * privilege; at most to 19). The index is derived data with a bounded, visible lag, and searches
 * are exact at any lag, so when the cores are short it should wait rather than the threads ingest
 * waits on: the UDP receive thread above all, whose socket buffer overflows within ~100 ms of not
 * being read. At nice 0 it had the same weight as those threads, and under `bench udp-ingest` at
 * 100k datagrams/s the receive thread spent most of each 20 ms window in which the kernel dropped
 * datagrams runnable but not running (its run-queue wait in /proc/<pid>/task/<tid>/schedstat). At
 * 10 below them its weight is 110 against their 1024: it still gets a core that nobody else wants,
 * and the writer's wait at the lag bound still holds ingest back if it falls too far behind. The
 * session chunk thread, which nothing waits for, stays below it (19).
 */
export const INDEX_THREAD_NICE = 10;

/** The index thread: how many rows one transaction of the index takes at most. */
export const INDEX_STEP_ROWS = 50_000;
/** The index thread's page cache for its index file, in KiB as `PRAGMA cache_size` takes it (negative). */
const INDEX_CACHE_KIB = -4000;
/** Default bound of the index lag (`--search-index-max-lag-rows`): past it the writer waits. */
export const INDEX_MAX_LAG_ROWS = 100_000;
/**
 * Default bound of the index lag while the queue is pressed (`--search-index-burst-lag-rows`):
 * ~10 s of ingest at 100,000 events/s, so a burst the index cannot follow on a busy machine waits
 * in the day file for the index instead of in the queue for the writer.
 */
export const INDEX_BURST_LAG_ROWS = 1_000_000;
/**
 * FTS5's `automerge` for the chunks of an index file: a level's segments are merged into one of the
 * next level once it has this many (FTS5's default is 4). Each step of the index thread writes a
 * segment, and every merge writes its rows again: merging 8 at a time writes each row fewer times.
 * Measured on a 262,144-row chunk of the ingest benchmark's values, in steps of 2,000 rows: 18 %
 * less CPU per row (4.13 against 5.04 µs, medians of 5 interleaved runs), 25–33 % fewer
 * instructions (callgrind) and the same file size. Cost: more segments to look a word up in; in
 * `bench query` (10M events) a rare word's p50 went from 2.7–3.0 to 3.2–4.3 ms (16 would save a
 * little more CPU, but left the file 70 % larger and a chunk's lookups 1.5× slower).
 */
export const INDEX_AUTOMERGE = 8;

export function indexFile(dataDir: string, day: string): string {
  return join(dataDir, `events-${day}.fts.db`);
}

/** The contentless FTS5 table of the chunk whose first row is `start`, with {@link INDEX_AUTOMERGE} (kept in the chunk's own config table). */
export function fileIndexSchema(start: number): string {
  return `CREATE VIRTUAL TABLE IF NOT EXISTS events_fts_${start} USING fts5 (value, content = '', columnsize = 0, tokenize = '${TOKENIZER}');
    INSERT INTO events_fts_${start} (events_fts_${start}, rank) VALUES ('automerge', ${INDEX_AUTOMERGE});`;
}

const STATE_SCHEMA = `
CREATE TABLE IF NOT EXISTS index_state (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  indexed INTEGER NOT NULL
);
INSERT OR IGNORE INTO index_state (id, indexed) VALUES (1, 0);
`;

/** Creates a day's index file, empty (watermark 0), if it does not exist. Durable when it returns. */
export function createIndexFile(path: string, synchronous: 'normal' | 'full'): void {
  createDerivedFile(path, synchronous, (db) => db.exec(STATE_SCHEMA));
}

export function hasIndexFile(dataDir: string, day: string): boolean {
  return existsSync(indexFile(dataDir, day));
}

/**
 * The index thread's handle on one day: its index file open for writing, the day file attached
 * (`day`) for reading the rows to index. Only the index thread holds one.
 */
export class IndexFollower {
  readonly db: Database.Database;
  private readonly starts: number[];
  private readonly inserts = new Map<number, Database.Statement>();
  private readonly lastRow: Database.Statement;
  private readonly setWatermark: Database.Statement;
  private readonly getWatermark: Database.Statement;

  /** `indexPath` must exist ({@link createIndexFile}); `dayPath` is the day file it indexes. */
  constructor(
    indexPath: string,
    dayPath: string,
    synchronous: 'normal' | 'full',
    private readonly chunkRows: number,
  ) {
    this.db = new Database(indexPath, { fileMustExist: true });
    applyPragmas(this.db, synchronous);
    // FTS5 appends segments and merges the newest ones: a small page cache serves that, and the
    // server's memory stays near what it was with the index inside the day file (one 16 MB cache).
    this.db.pragma(`cache_size = ${INDEX_CACHE_KIB}`);
    this.db.exec(STATE_SCHEMA);
    attachDayFile(this.db, dayPath);
    // What the index tokenizes: the value as a terminal shows it (search/escapes.ts). Called only
    // for values that hold an ESC; the others go to the tokenizer without leaving SQLite.
    this.db.function('logsrv_index_text', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? stripEscapes(v) : v));
    const names = this.db.prepare("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name GLOB 'events_fts_[0-9]*'").pluck().all() as string[];
    this.starts = names
      .map((n) => /^events_fts_(\d+)$/.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    this.lastRow = this.db.prepare('SELECT max(rowid) FROM day.events').pluck();
    this.getWatermark = this.db.prepare('SELECT indexed FROM index_state WHERE id = 1').pluck();
    this.setWatermark = this.db.prepare('UPDATE index_state SET indexed = ? WHERE id = 1');
  }

  watermark(): number {
    return this.getWatermark.get() as number;
  }

  /** Rows read so far: the watermark (each step writes what it reads). */
  readTo(): number {
    return this.watermark();
  }

  /** Nothing is buffered between steps. */
  flush(): void {}

  /** The day file's last committed rowid (0 when it has no rows, or no table yet). */
  committed(): number {
    try {
      return (this.lastRow.get() as number | null) ?? 0;
    } catch {
      return 0; // the day file between its creation and its tables
    }
  }

  /**
   * Indexes the rows after the watermark, at most `maxRows`, in one transaction with the new
   * watermark. Returns the new watermark.
   */
  step(maxRows: number): number {
    const from = this.watermark() + 1;
    const last = Math.min(this.committed(), from + maxRows - 1);
    if (last < from) return from - 1;
    this.db.transaction(() => {
      for (let lo = from; lo <= last; ) {
        let start = this.starts[this.starts.length - 1];
        if (start === undefined || lo >= start + this.chunkRows) {
          start = lo;
          this.db.exec(fileIndexSchema(start));
          this.starts.push(start);
        }
        const hi = Math.min(last, start + this.chunkRows - 1);
        this.insertFor(start).run(lo, hi);
        lo = hi + 1;
      }
      this.setWatermark.run(last);
    })();
    return last;
  }

  close(): void {
    this.db.close();
  }

  private insertFor(start: number): Database.Statement {
    let s = this.inserts.get(start);
    if (!s) {
      s = this.db.prepare(
        `INSERT INTO events_fts_${start} (rowid, value)
         SELECT rowid, CASE WHEN instr(value, char(27)) > 0 THEN logsrv_index_text(value) ELSE value END FROM day.events WHERE rowid BETWEEN ? AND ?`,
      );
      this.inserts.set(start, s);
    }
    return s;
  }
}

/**
 * Index progress shared between the writer, the index thread and the main thread (for /metrics):
 * a SharedArrayBuffer, so the writer can wait for the index without a message round trip.
 * Float64 slots are written by one thread each and read racily by the others (a stale value only
 * delays a decision until the next look); `signal` is bumped and notified by the index thread
 * after each step, and the writer waits on it (Atomics.wait) when the lag is over its bound.
 */
export class IndexProgress {
  static bytes = 72;
  private readonly f: Float64Array;
  private readonly i: Int32Array;
  /** [0]: seconds the writer has waited in {@link waitUntilLagAtMost}, in all (written by the writer only). */
  private readonly waited: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.f = new Float64Array(buffer, 0, 6); // [5]: the index thread's own count of rows behind
    this.i = new Int32Array(buffer, 48, 4);
    this.waited = new Float64Array(buffer, 64, 1);
  }

  /** Writer: the day it writes (days since the epoch), its last committed rowid, whether that day has an index file. */
  writerAt(dayNo: number, rowid: number, indexed: boolean): void {
    this.f[0] = dayNo;
    this.f[1] = rowid;
    this.f[2] = indexed ? 1 : 0;
  }

  /**
   * Index thread: the day it follows, its watermark, and the rows of that day it knows are not
   * indexed yet (what it catches up at start, before the writer has committed anything).
   */
  indexerAt(dayNo: number, watermark: number, behind: number): void {
    this.f[3] = dayNo;
    this.f[4] = watermark;
    this.f[5] = behind;
    Atomics.add(this.i, 0, 1);
    Atomics.notify(this.i, 0);
  }

  /** The day the writer writes (days since the epoch) if it is followed (has the file), else null. */
  writerDay(): number | null {
    return this.f[2] === 1 ? (this.f[0] as number) : null;
  }

  /** Main thread: the index thread is gone; nobody waits for it any more. */
  markDead(): void {
    Atomics.store(this.i, 1, 1);
    Atomics.notify(this.i, 0);
  }

  get dead(): boolean {
    return Atomics.load(this.i, 1) === 1;
  }

  /**
   * Rows committed but not yet indexed: of the writer's day (0 when it has no index file), or of
   * the day the index thread is catching up, whichever is more.
   */
  lag(): number {
    const f = this.f;
    const behind = f[5] as number;
    if (f[2] !== 1) return behind;
    const writerDay = f[0] as number;
    const indexerDay = f[3] as number;
    if (indexerDay > writerDay) return behind;
    // Still on an earlier day: nothing of the writer's day is indexed yet.
    if (indexerDay < writerDay) return (f[1] as number) + behind;
    return Math.max(behind, (f[1] as number) - (f[4] as number));
  }

  /** Main thread: whether the writer's queue is pressed (Store.queuePressed); wakes a writer that waits. */
  setPressed(pressed: boolean): void {
    Atomics.store(this.i, 2, pressed ? 1 : 0);
    Atomics.add(this.i, 0, 1);
    Atomics.notify(this.i, 0);
  }

  get pressed(): boolean {
    return Atomics.load(this.i, 2) === 1;
  }

  /**
   * Writer: blocks while the lag is over `maxRows`, or over `burstRows` while the queue is pressed
   * (backpressure), unless the index thread is gone.
   */
  waitUntilLagAtMost(maxRows: number, burstRows = maxRows): void {
    const over = () => this.lag() > (this.pressed ? burstRows : maxRows);
    if (!over() || this.dead) return;
    const t0 = performance.now();
    while (over() && !this.dead) {
      const seen = Atomics.load(this.i, 0);
      if (!over()) break;
      Atomics.wait(this.i, 0, seen, 100);
    }
    this.waited[0] = (this.waited[0] as number) + (performance.now() - t0) / 1000;
  }

  /** Seconds the writer has spent in {@link waitUntilLagAtMost} since the store opened (ingest held back meanwhile). */
  waitedSeconds(): number {
    return this.waited[0] as number;
  }
}
