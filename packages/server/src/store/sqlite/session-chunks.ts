/**
 * A day's sessions stored together, already rendered: `events-YYYYMMDD.sess.db` beside the day
 * file, written by the session chunk thread (session-chunks-worker.ts), never by the writer.
 *
 * Why: a day file holds its rows in id order, so one session's rows are spread over the file
 * between other sessions'; reading 10,000 of them is 10,000 rows found, decoded and rendered to
 * JSON (~55 ms in bare SQLite for the `query` benchmark's data set, before any JSON). Here a
 * session's events are a few long blobs of their JSON, adjacent in the file: a page is a scan of
 * a few dozen rows and a copy of their bytes (read-session-chunks.ts).
 *
 * Layout: `chunks`, found by (session, first rowid), each the JSON of some of the session's events
 * (render-json.ts's bytes, `,` between events) and for each event its rowid (as an offset from
 * `first`) and where its JSON ends, so that a cursor or a limit cuts a chunk exactly.
 * `chunk_state.built` is the watermark: every row of the day up to that rowid is in a chunk, no
 * chunk holds a row after it. Chunks and the watermark are written in one transaction, so after
 * kill -9 the thread resumes from the watermark and rebuilds the rest from the day file: nothing
 * here is needed for durability, it is derived data.
 *
 * Memory: the thread renders the rows after the watermark into one buffer (a slab of
 * CHUNK_BUFFER_BYTES and a little more, kept while the day is followed), each session's events
 * in runs there, and writes every session's as a chunk, with the new watermark, when they hold
 * CHUNK_BUFFER_BYTES, one session's hold CHUNK_MAX_BYTES, the next event does not fit, or the
 * oldest is `flushMs` old, and when the day is done. A session's chunk is what it got between two
 * flushes.
 *
 * Contract for readers: rows ≤ watermark from the chunks, rows after it from the day file (as
 * before): the same answer, whatever the lag. The writer creates the file (watermark 0) before a
 * new day's first row, so a day has one iff it was written by a version with chunks; older day
 * files are read as before.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { eventJson, IsoCache, JSON_COLUMNS } from './render-json.js';
import { applyPragmas, attachDayFile, createDerivedFile } from './schema.js';

/**
 * Rows read from the day file per step (a read transaction on the day file). Small, because the
 * thread runs at nice 19: a step starved by a busy machine holds its snapshot, and while it does
 * the day file's WAL cannot start over, so the step's length bounds that WAL's growth.
 */
export const CHUNK_STEP_ROWS = 2_000;
/** Buffered JSON (bytes) that makes the thread write its chunks: the bound of its memory. */
export const CHUNK_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * A session's buffer this large makes the thread write its chunks too: a chunk is read whole
 * even for a page of one event, so one busy session must not make chunks of megabytes.
 */
export const CHUNK_MAX_BYTES = 256 * 1024;
/** Default: buffered events are written at the latest this long after the oldest was read. */
export const CHUNK_FLUSH_MS = 1000;
/** The thread's page cache for the chunk file, in KiB as `PRAGMA cache_size` takes it (negative). */
const CHUNK_CACHE_KIB = -2000;

export function chunkFile(dataDir: string, day: string): string {
  return join(dataDir, `events-${day}.sess.db`);
}

export function hasChunkFile(dataDir: string, day: string): boolean {
  return existsSync(chunkFile(dataDir, day));
}

/**
 * The chunks of a file created now: a rowid table (chunks appended in the order written) and an
 * index on (session, first) that the readers use.
 *
 * Files created before held them in a WITHOUT ROWID table keyed by (session, first) (CHUNK_TABLE_V1):
 * its rows are the index's entries, blobs and all, and an insert into it compares the new key
 * with existing rows on its way down the b-tree; a row whose blobs spill onto overflow pages is
 * read whole (all its pages) for each comparison. Writing chunks cost twice as much CPU as here
 * (bench/micro.ts). Those files are read and added to as they are: the same columns, the same
 * SQL, the same answers; a new table is used only in new files.
 */
export const CHUNK_TABLE = `
CREATE TABLE IF NOT EXISTS chunks (
  session TEXT    NOT NULL,
  first   INTEGER NOT NULL, -- rowid of the chunk's first event in the day file
  last    INTEGER NOT NULL, -- rowid of its last event
  ids     BLOB    NOT NULL, -- per event: rowid - first, end of its JSON in json (uint32 LE each)
  json    BLOB    NOT NULL  -- the events' JSON, ',' between them
);
`;

/** The readers' index on CHUNK_TABLE (compaction builds it after the rows, compact-chunks.ts). */
export const CHUNK_INDEX = 'CREATE UNIQUE INDEX IF NOT EXISTS chunks_session ON chunks (session, first);';

/** The table of files created before CHUNK_TABLE (still read and written as they are). */
export const CHUNK_TABLE_V1 = `
CREATE TABLE IF NOT EXISTS chunks (
  session TEXT    NOT NULL,
  first   INTEGER NOT NULL,
  last    INTEGER NOT NULL,
  ids     BLOB    NOT NULL,
  json    BLOB    NOT NULL,
  PRIMARY KEY (session, first)
) WITHOUT ROWID;
`;

export const CHUNK_STATE = `
CREATE TABLE IF NOT EXISTS chunk_state (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  built INTEGER NOT NULL
);
INSERT OR IGNORE INTO chunk_state (id, built) VALUES (1, 0);
`;

/** The schema of a chunk file created now. */
export const CHUNK_SCHEMA = CHUNK_TABLE + CHUNK_INDEX + CHUNK_STATE;

/** Creates the chunk tables where missing; a file that has its `chunks` keeps it as it is. */
function ensureChunkSchema(db: Database.Database): void {
  const has = db.prepare("SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'chunks'").get() !== undefined;
  db.exec(has ? CHUNK_STATE : CHUNK_SCHEMA);
}

/** Creates a day's chunk file, empty (watermark 0), if it does not exist. Durable when it returns. */
export function createChunkFile(path: string, synchronous: 'normal' | 'full'): void {
  createDerivedFile(path, synchronous, ensureChunkSchema);
}

/**
 * A session's buffered events. Their JSON is in the chunker's slab as UTF-8, in runs: events of
 * the session read one after another are adjacent there, `,` between them; a chunk is its runs
 * joined by `,`. For each event its rowid and where its JSON ends in the chunk.
 */
interface Pending {
  session: string;
  /** Start and end (exclusive) in the slab of each run. */
  runs: number[];
  /** Bytes of its chunk so far (its runs and the `,` between them). */
  len: number;
  rowids: number[];
  ends: number[];
}

/**
 * The slab's size: the buffered JSON, CHUNK_BUFFER_BYTES, and room for the event that reaches it.
 * An event that does not fit stops the step (the buffers are written, and the next step starts
 * with an empty slab); one larger than the whole slab gets a slab of its own size.
 */
const SLAB_BYTES = CHUNK_BUFFER_BYTES + 256 * 1024;

/**
 * The chunk thread's handle on one day: its chunk file open for writing, the day file attached
 * (`day`) to read the rows from. Only that thread holds one (and restore, on a file not yet in
 * the store).
 *
 * The events read are rendered into one slab, reused from flush to flush, rather than into a
 * buffer per session: per-session buffers, allocated afresh after each flush and grown by
 * doubling, cost their allocation, copies and page faults (with the read from SQLite the step's
 * largest cost after the rendering itself, measured with bench/micro.ts).
 */
export class SessionChunker {
  readonly db: Database.Database;
  private readonly pending = new Map<string, Pending>();
  /** The session of the last event put in the slab (its run ends at `slabLen`). */
  private last: Pending | null = null;
  private slab: Buffer | null = null;
  private slabLen = 0;
  /** Where a chunk of several runs is joined, and its ids written (SQLite copies bound blobs). */
  private scratch: Buffer = Buffer.alloc(0);
  /** Rows up to here are in chunks or in `pending`. */
  private read: number;
  /** The watermark on disk. */
  private built: number;
  private oldestMs = 0;
  private readonly rows: Database.Statement;
  private readonly lastRow: Database.Statement;
  private readonly insert: Database.Statement;
  private readonly setBuilt: Database.Statement;
  private readonly iso = new IsoCache();

  /** `chunkPath` must exist ({@link createChunkFile}); `dayPath` is the day file it follows. */
  constructor(chunkPath: string, dayPath: string, synchronous: 'normal' | 'full') {
    this.db = new Database(chunkPath, { fileMustExist: true });
    applyPragmas(this.db, synchronous);
    this.db.pragma(`cache_size = ${CHUNK_CACHE_KIB}`);
    ensureChunkSchema(this.db);
    attachDayFile(this.db, dayPath);
    this.rows = this.db.prepare(`SELECT ${JSON_COLUMNS}, rowid FROM day.events WHERE rowid BETWEEN ? AND ? ORDER BY rowid`).raw(true);
    this.lastRow = this.db.prepare('SELECT max(rowid) FROM day.events').pluck();
    this.insert = this.db.prepare('INSERT INTO chunks (session, first, last, ids, json) VALUES (?, ?, ?, ?, ?)');
    this.setBuilt = this.db.prepare('UPDATE chunk_state SET built = ? WHERE id = 1');
    this.built = this.db.prepare('SELECT built FROM chunk_state WHERE id = 1').pluck().get() as number;
    this.read = this.built;
  }

  /** Every row up to this rowid is in a chunk (on disk). */
  watermark(): number {
    return this.built;
  }

  /** Rows up to here are rendered: in chunks or buffered. */
  readTo(): number {
    return this.read;
  }

  /** The day file's last committed rowid (0 when it has no rows, or no table yet). */
  committed(): number {
    try {
      return (this.lastRow.get() as number | null) ?? 0;
    } catch {
      return 0;
    }
  }

  /** The session's buffered events, made empty the first time since the last flush. */
  private pendingOf(session: string): Pending {
    let p = this.pending.get(session);
    if (p === undefined) {
      p = { session, runs: [], len: 0, rowids: [], ends: [] };
      this.pending.set(session, p);
    }
    return p;
  }

  /** Bytes of JSON buffered, and since when (Date.now() of the oldest; 0 when none). */
  buffered(): { bytes: number; sinceMs: number } {
    return { bytes: this.slabLen, sinceMs: this.slabLen > 0 ? this.oldestMs : 0 };
  }

  /**
   * Renders up to `maxRows` rows after those read into the buffers, and writes the chunks when
   * the buffers are full (then stops early). Returns the last rowid read.
   */
  step(maxRows: number): number {
    const from = this.read + 1;
    const last = Math.min(this.committed(), from + maxRows - 1);
    if (last < from) return this.read;
    if (this.slabLen === 0) this.oldestMs = Date.now();
    // All of the step's rows at once (at most maxRows): cheaper than iterate() per row.
    const rows = this.rows.all(from, last) as unknown[][];
    let slab = this.slab ?? Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.slab = slab;
    let full = false;
    let at = from - 1;
    for (const a of rows) {
      const session = a[2] as string;
      const json = eventJson(a, this.iso);
      // At most 3 bytes of UTF-8 per UTF-16 unit, and the ',' before it.
      const need = json.length * 3 + 1;
      if (this.slabLen + need > slab.length) {
        if (this.slabLen > 0) {
          full = true; // this row is read again after the flush, into an empty slab
          break;
        }
        slab = Buffer.allocUnsafeSlow(need);
        this.slab = slab;
      }
      let p = this.last;
      if (p !== null && p.session === session) {
        slab[this.slabLen++] = 0x2c; // its run goes on: the ',' in the slab too
      } else {
        p = this.pendingOf(session);
        p.runs.push(this.slabLen, this.slabLen); // a new run (its end set below)
        this.last = p;
      }
      if (p.len > 0) p.len++; // the ',' before it in the chunk
      const n = slab.write(json, this.slabLen);
      this.slabLen += n;
      p.len += n;
      p.runs[p.runs.length - 1] = this.slabLen;
      p.ends.push(p.len);
      at = a[15] as number;
      p.rowids.push(at);
      if (this.slabLen >= CHUNK_BUFFER_BYTES || p.len >= CHUNK_MAX_BYTES) {
        full = true;
        break;
      }
    }
    this.read = full ? at : last;
    if (full) this.flush();
    if (slab.length > SLAB_BYTES && this.slabLen === 0) this.slab = null; // one event's slab: not kept
    return this.read;
  }

  /** Writes every buffered session as a chunk, with the watermark, in one transaction. */
  flush(): void {
    const to = this.read;
    if (this.pending.size === 0 && to === this.built) return;
    const slab = this.slab as Buffer;
    this.db.transaction(() => {
      for (const p of this.pending.values()) {
        const n = p.rowids.length;
        const first = p.rowids[0] as number;
        const runs = p.runs.length / 2;
        // The ids after the joined runs in the scratch buffer; one run is bound from the slab as it is.
        const idsAt = runs === 1 ? 0 : p.len;
        const size = idsAt + n * 8;
        if (this.scratch.length < size) this.scratch = Buffer.allocUnsafeSlow(Math.max(size, this.scratch.length * 2));
        const scratch = this.scratch;
        let json: Buffer;
        if (runs === 1) {
          json = slab.subarray(p.runs[0] as number, p.runs[1] as number);
        } else {
          let w = 0;
          for (let r = 0; r < p.runs.length; r += 2) {
            if (w > 0) scratch[w++] = 0x2c;
            w += slab.copy(scratch, w, p.runs[r] as number, p.runs[r + 1] as number);
          }
          json = scratch.subarray(0, w);
        }
        for (let i = 0; i < n; i++) {
          scratch.writeUInt32LE((p.rowids[i] as number) - first, idsAt + i * 8);
          scratch.writeUInt32LE(p.ends[i] as number, idsAt + i * 8 + 4);
        }
        this.insert.run(p.session, first, p.rowids[n - 1], scratch.subarray(idsAt, size), json);
      }
      this.setBuilt.run(to);
    })();
    this.pending.clear();
    this.last = null;
    this.slabLen = 0;
    this.built = to;
  }

  close(): void {
    this.db.close();
    this.slab = null;
  }
}

/** One chunk as read: the rowids of its events and where each one's JSON starts and ends. */
export interface DecodedChunk {
  rowid(i: number): number;
  start(i: number): number;
  end(i: number): number;
  n: number;
}

export function decodeChunk(first: number, ids: Uint8Array): DecodedChunk {
  const view = new DataView(ids.buffer, ids.byteOffset, ids.byteLength);
  return {
    n: ids.byteLength / 8,
    rowid: (i) => first + view.getUint32(i * 8, true),
    end: (i) => view.getUint32(i * 8 + 4, true),
    start: (i) => (i === 0 ? 0 : view.getUint32(i * 8 - 4, true) + 1),
  };
}
