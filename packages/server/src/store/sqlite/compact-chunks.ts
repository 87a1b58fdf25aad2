/**
 * Compaction of a complete day's session chunks (session-chunks.ts): the chunk file is written
 * again with each session's chunks merged (up to COMPACT_CHUNK_BYTES each) and stored one after the
 * other, sessions in order, then put in place of the old file.
 *
 * Why: while a day is written, a session gets a chunk per flush of the chunk thread, so a session
 * of 10,000 events written among hundreds of others is ~100 chunks of a few dozen KB, each in
 * another part of a 1–2 GB file. Read from the page cache that costs a fault or a lookup per
 * chunk; read from the disk (a day not read for a while, pages the kernel gave back) a seek per
 * chunk. Once the day is complete its chunks never change, so they are laid out once for reading:
 * a session is a few chunks in adjacent pages, one sequential read.
 *
 * When: the chunk thread compacts a day when it leaves it complete (the writer has moved to a
 * later day; days only move forward for that thread, see day-follower.ts), between its steps on
 * the day it follows, a bounded number of bytes per step, at its priority (nice 19). `logsrv
 * restore` compacts the chunks it builds before the day appears. A compacted file has
 * `PRAGMA user_version` COMPACTED_LAYOUT; it is never compacted again.
 *
 * Safety: the new file is written beside the old one under a temporary name (dot-first, which no
 * reader lists), checked (the same number of chunks' events and the same watermark), made durable,
 * and renamed over the old file: readers see the old file or the new one, both complete (readers
 * reopen a day's files when their inode changes, reader-worker.ts). Killed before the rename, the
 * old file is still there and the day is compacted again at the next start (the temporary file is
 * removed then). The new file needs as much free space as the old one: without twice that free,
 * the day is left as it is, so that compaction never fills the disk that ingest writes to.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, statfsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { dayFile, removeDb } from './schema.js';
import { CHUNK_INDEX, CHUNK_STATE, CHUNK_TABLE, chunkFile } from './session-chunks.js';

/** `PRAGMA user_version` of a compacted chunk file (0: written by the chunk thread as it followed the day). */
export const COMPACTED_LAYOUT = 1;
/**
 * A merged chunk's JSON bound (bytes). Smaller than CHUNK_MAX_BYTES: a JSON page reads each chunk
 * as one string (read-session-chunks.ts TEXT_SCAN), and V8 allocates strings above ~128 KB in its
 * large-object space, which only a full mark-compact frees.
 */
export const COMPACT_CHUNK_BYTES = 64 * 1024;
/** JSON bytes copied per step (one transaction on the new file). */
export const COMPACT_STEP_BYTES = 4 * 1024 * 1024;

const TMP_PREFIX = '.compact-';

/** Whether the chunk file at `path` is compacted. */
export function isCompacted(path: string): boolean {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('user_version', { simple: true }) as number) === COMPACTED_LAYOUT;
  } finally {
    db.close();
  }
}

/** Removes temporary files that a compaction killed before its end left in `dataDir`. */
export function removeCompactionLeftovers(dataDir: string): void {
  for (const name of readdirSync(dataDir)) if (name.startsWith(TMP_PREFIX)) rmSync(join(dataDir, name), { force: true });
}

/** The merged chunk being built: its events' JSON and ids, as the chunk table stores them. */
interface Merged {
  session: string;
  first: number;
  last: number;
  /** JSON bytes so far in `json`. */
  len: number;
  /** Events so far (8 bytes each in `ids`). */
  n: number;
}

/**
 * One chunk file being compacted, step by step ({@link step}, then {@link finish}, or
 * {@link abandon}). The old file is only read.
 */
export class ChunkCompactor {
  readonly tmp: string;
  private readonly src: Database.Database;
  private readonly dst: Database.Database;
  /** The old file's inode: a file at `path` with another one (the day archived, then restored) is not ours to replace. */
  private readonly ino: number;
  private readonly rows: IterableIterator<[string, number, number, Buffer, Buffer]>;
  private readonly insert: Database.Statement;
  private merged: Merged | null = null;
  private json: Buffer = Buffer.allocUnsafeSlow(COMPACT_CHUNK_BYTES);
  private ids: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
  private done = false;
  /** Chunks read from the old file (checked against its count at the end). */
  private chunksIn = 0;

  constructor(readonly path: string) {
    this.tmp = join(dirname(path), `${TMP_PREFIX}${basename(path)}.${process.pid}.${Date.now()}.tmp`);
    this.src = new Database(path, { fileMustExist: true });
    this.ino = statSync(path).ino;
    try {
      this.src.pragma('busy_timeout = 5000');
      this.dst = new Database(this.tmp);
    } catch (err) {
      this.src.close();
      throw err;
    }
    try {
      // Written once and made durable as a whole before it is used: no journal while it is built.
      this.dst.pragma('journal_mode = OFF');
      this.dst.pragma('synchronous = OFF');
      // The table only: its index is built at the end, from sorted entries, in adjacent pages too.
      this.dst.exec(CHUNK_TABLE);
      this.insert = this.dst.prepare('INSERT INTO chunks (session, first, last, ids, json) VALUES (?, ?, ?, ?, ?)');
      // In (session, first) order: the index of either table layout (session-chunks.ts) gives it.
      this.rows = this.src.prepare('SELECT session, first, last, ids, json FROM chunks ORDER BY session, first').raw(true).iterate() as typeof this.rows;
    } catch (err) {
      this.abandon();
      throw err;
    }
  }

  /**
   * Copies about `maxBytes` of JSON into the new file; true when there is nothing more to copy:
   * every chunk is, or the old file is no longer at `path` ({@link finish} then puts nothing in place).
   */
  step(maxBytes = COMPACT_STEP_BYTES): boolean {
    if (this.done) return true;
    if (this.replaced()) {
      this.done = true;
      return true;
    }
    let copied = 0;
    this.dst.exec('BEGIN');
    try {
      while (copied < maxBytes) {
        const next = this.rows.next();
        if (next.done) {
          this.emit();
          this.done = true;
          break;
        }
        const [session, first, last, ids, json] = next.value;
        this.add(session, first, last, ids, json);
        copied += json.length;
      }
      this.dst.exec('COMMIT');
    } catch (err) {
      if (this.dst.inTransaction) this.dst.exec('ROLLBACK');
      throw err;
    }
    return this.done;
  }

  /** Appends a chunk of the old file to the merged one, or writes that and starts another. */
  private add(session: string, first: number, last: number, ids: Buffer, json: Buffer): void {
    this.chunksIn++;
    const n = ids.length / 8;
    let m = this.merged;
    if (m !== null && (m.session !== session || m.len + 1 + json.length > COMPACT_CHUNK_BYTES)) {
      this.emit();
      m = null;
    }
    if (m === null) {
      m = { session, first, last, len: 0, n: 0 };
      this.merged = m;
    }
    const at = m.len === 0 ? 0 : m.len + 1;
    this.json = ensure(this.json, at + json.length);
    if (m.len > 0) this.json[m.len] = 0x2c; // ',' between the chunks' events
    json.copy(this.json, at);
    this.ids = ensure(this.ids, (m.n + n) * 8);
    for (let i = 0; i < n; i++) {
      // Each event's rowid as an offset from the merged chunk's first, and where its JSON ends.
      this.ids.writeUInt32LE(first + ids.readUInt32LE(i * 8) - m.first, (m.n + i) * 8);
      this.ids.writeUInt32LE(at + ids.readUInt32LE(i * 8 + 4), (m.n + i) * 8 + 4);
    }
    m.len = at + json.length;
    m.n += n;
    m.last = last;
  }

  private emit(): void {
    const m = this.merged;
    if (m === null) return;
    this.insert.run(m.session, m.first, m.last, this.ids.subarray(0, m.n * 8), this.json.subarray(0, m.len));
    this.merged = null;
  }

  /**
   * After the last step: the index, the watermark and the layout mark, a check against the old
   * file, then the new file in its place; true when it is. The old file must not have been written
   * meanwhile. False, and nothing at `path` touched, when the old file is no longer there (its day
   * archived meanwhile, perhaps restored: the file there now is another one, with its own WAL).
   */
  finish(): boolean {
    if (!this.done) throw new Error('compaction finished before its last step');
    if (this.replaced()) {
      this.abandon();
      return false;
    }
    const built = this.src.prepare('SELECT built FROM chunk_state WHERE id = 1').pluck().get() as number;
    const chunks = this.src.prepare('SELECT count(*) FROM chunks').pluck().get() as number;
    // Its WAL is removed below: what it holds goes into the file first (the thread that wrote it has left it).
    this.src.pragma('wal_checkpoint(TRUNCATE)');
    this.src.close();
    if (chunks !== this.chunksIn) {
      this.abandon();
      throw new Error(`${this.path}: compaction read ${this.chunksIn} chunks of ${chunks}; left as it was`);
    }
    this.dst.exec(CHUNK_INDEX + CHUNK_STATE); // the index (built now), chunk_state with its row
    this.dst.prepare('UPDATE chunk_state SET built = ? WHERE id = 1').run(built);
    this.dst.pragma(`user_version = ${COMPACTED_LAYOUT}`);
    // The chunk thread and restore open chunk files in WAL mode; a compacted one starts in it too.
    this.dst.pragma('journal_mode = WAL');
    this.dst.close();
    syncFile(this.tmp);
    // The old file's WAL and shared memory go with it; a reader that still has it open keeps
    // reading its own copy (SQLite does not checkpoint or delete by name a file that has moved).
    removeDb(this.path, ['-wal', '-shm']);
    renameSync(this.tmp, this.path);
    syncFile(dirname(this.path));
    return true;
  }

  /** Whether the file at `path` is gone or another one than the file read (the day archived, perhaps restored). */
  private replaced(): boolean {
    return statSync(this.path, { throwIfNoEntry: false })?.ino !== this.ino;
  }

  /** Stops and removes the new file; the old one is left as it was. */
  abandon(): void {
    for (const db of [this.src, this.dst]) {
      try {
        if (db?.open) db.close();
      } catch {
        // closing what is left
      }
    }
    removeDb(this.tmp); // written without a journal: no -journal
  }
}

/** Compacts the chunk file at `path` at once: `logsrv restore`, before its day appears in the store. */
export function compactChunkFile(path: string): void {
  const c = new ChunkCompactor(path);
  try {
    while (!c.step());
    if (!c.finish()) throw new Error(`${path} was replaced while it was compacted`);
  } catch (err) {
    c.abandon();
    throw err;
  }
}

function ensure(buf: Buffer, size: number): Buffer {
  if (buf.length >= size) return buf;
  const bigger = Buffer.allocUnsafeSlow(Math.max(size, buf.length * 2));
  buf.copy(bigger);
  return bigger;
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The chunk thread's compactions: days left complete are queued, and compacted one at a time, a
 * step per call of {@link step}, when the thread has nothing to follow.
 */
export class Compactions {
  private readonly queue: string[] = [];
  private active: { day: string; c: ChunkCompactor } | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly log: (message: string) => void,
  ) {
    removeCompactionLeftovers(dataDir);
  }

  /** A day the chunk thread has left complete: compacted later unless it already is. */
  dayDone(day: string): void {
    if (this.queue.includes(day) || this.active?.day === day) return;
    this.queue.push(day);
  }

  /** Days waiting or being compacted. */
  get pending(): number {
    return this.queue.length + (this.active ? 1 : 0);
  }

  /** One step of the current compaction (starting the next one when none is running); true while work remains. */
  step(): boolean {
    let a = this.active;
    try {
      a ??= this.start();
      if (a?.c.step()) {
        const placed = a.c.finish();
        this.active = null;
        // Archived while it was compacted (the chunk file it read is gone: nothing was put in its
        // place), or right after the check: the day file is gone, its chunk file goes too.
        if (placed && statSync(dayFile(this.dataDir, a.day), { throwIfNoEntry: false }) === undefined) removeDb(a.c.path);
      }
    } catch (err) {
      this.active = null;
      a?.c.abandon();
      this.log(`compaction of ${a?.day ?? 'a day'}'s session chunks: ${(err as Error).message} (left as it was)`);
    }
    return this.pending > 0;
  }

  /** Starts the next queued day that has a chunk file not yet compacted and room on the disk to compact it. */
  private start(): { day: string; c: ChunkCompactor } | null {
    while (this.queue.length > 0) {
      const day = this.queue.shift() as string;
      const path = chunkFile(this.dataDir, day);
      const size = statSync(path, { throwIfNoEntry: false })?.size;
      if (size === undefined || statSync(dayFile(this.dataDir, day), { throwIfNoEntry: false }) === undefined) continue;
      if (isCompacted(path)) continue;
      const fs = statfsSync(this.dataDir);
      const free = Number(fs.bavail) * Number(fs.bsize);
      if (free < 2 * size) {
        this.log(`not compacting ${day}'s session chunks: ${Math.round(free / 1e6)} MB free, ${Math.round((2 * size) / 1e6)} MB wanted (left as they are)`);
        continue;
      }
      this.active = { day, c: new ChunkCompactor(path) };
      return this.active;
    }
    return null;
  }

  /** Stops the compaction under way (at close); its day is compacted again at the next start. */
  close(): void {
    this.active?.c.abandon();
    this.active = null;
    this.queue.length = 0;
  }
}
