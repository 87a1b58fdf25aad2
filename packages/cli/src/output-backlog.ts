/**
 * The command's output as read, waiting to be turned into events: chunks of raw bytes with the
 * stream they came from and the time they were read, in read order — and markers for "a quiet
 * period passed here" (see output-capture.ts). First in memory, up to `maxMemoryBytes`; past that,
 * in a file, so memory stays bounded however fast the command prints.
 *
 * Why: splitting and JSON-encoding a line costs ~1 µs; a command printing 100 MB in 1M lines at
 * full speed would wait for that. Kept raw, a 64 KiB read costs one write, and lines are made at
 * the pace the server takes them.
 *
 * Order: entries are consumed memory first, then file; once the file is in use, new entries go to
 * it until it has been read to the end (then it is deleted). The file is private to this process
 * (0600) and removed by {@link close}; it is not a spool: if the agent is killed, what is here
 * is lost, like the pipe's contents would be ({@link sweepBacklogs} removes such leftovers).
 *
 * When the file cannot be made or written (the directory is not writable, the disk is full),
 * entries stay in memory — after those in the file, so order holds — and {@link full} says when
 * memory is over its bound: the owner then stops reading the command's output (the pipe fills and
 * the command waits) until entries were taken. Nothing read is ever dropped.
 *
 * File record: stream (u8), read time (f64 epoch ms), length (u32; 0xffffffff = marker), bytes.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '@logsrv/client/agent';

export interface BacklogEntry {
  stream: number;
  ts: number;
  /**
   * Null for a quiet-period marker. Read back from the file, it is a view of a buffer the next
   * {@link OutputBacklog.shift} overwrites: use it before then (a fresh buffer per record was
   * most of the agent's garbage, and its RSS).
   */
  data: Buffer | null;
}

const HEADER = 13;
const MARKER = 0xffffffff;

export class OutputBacklog {
  private mem: BacklogEntry[] = [];
  private memHead = 0;
  private memBytes = 0;
  /** Entries that came while the file was in use but could not be written: they follow the file. */
  private tail: BacklogEntry[] = [];
  /** Why the file cannot be used; null while it can. */
  private fileError: string | null = null;
  private fd = -1;
  private file = '';
  private writeAt = 0;
  private readAt = 0;
  private readonly header = Buffer.alloc(HEADER);
  /** Where records are read back from the file (see BacklogEntry.data). */
  private readBuf = Buffer.alloc(0);

  constructor(
    private readonly dir: string,
    private readonly maxMemoryBytes: number,
  ) {}

  get empty(): boolean {
    return this.memHead >= this.mem.length && this.readAt >= this.writeAt && this.tail.length === 0;
  }

  /** Memory is over its bound and the file cannot take more: stop adding until entries were taken. */
  get full(): boolean {
    return this.fileError !== null && this.memBytes >= this.maxMemoryBytes;
  }

  /** Why the overflow file cannot be used (for a message), or null. */
  get unusable(): string | null {
    return this.fileError;
  }

  /** Bytes waiting (memory and file). */
  get bytes(): number {
    return this.memBytes + (this.writeAt - this.readAt);
  }

  push(stream: number, ts: number, data: Buffer | null): void {
    const size = data?.length ?? 0;
    if (this.fd < 0 && (this.memBytes + size <= this.maxMemoryBytes || this.fileError !== null || !this.openFile())) {
      this.mem.push({ stream, ts, data });
      this.memBytes += size;
      return;
    }
    if (this.fileError !== null || !this.writeRecord(stream, ts, data)) {
      this.tail.push({ stream, ts, data });
      this.memBytes += size;
    }
  }

  /** One record at the end of the file; false (file marked unusable, nothing half-written kept) when it fails. */
  private writeRecord(stream: number, ts: number, data: Buffer | null): boolean {
    const at = this.writeAt;
    try {
      this.header.writeUInt8(stream, 0);
      this.header.writeDoubleLE(ts, 1);
      this.header.writeUInt32LE(data ? data.length : MARKER, 9);
      writeAll(this.fd, this.header, at);
      if (data && data.length > 0) writeAll(this.fd, data, at + HEADER);
      this.writeAt = at + HEADER + (data?.length ?? 0);
      return true;
    } catch (err) {
      this.fileError = (err as Error).message;
      try {
        ftruncateSync(this.fd, at);
      } catch {
        // reads stop at writeAt anyway
      }
      return false;
    }
  }

  /** The oldest entry, removed; null when empty. Its `data` is valid until the next call. */
  shift(): BacklogEntry | null {
    if (this.memHead < this.mem.length) {
      const e = this.mem[this.memHead] as BacklogEntry;
      this.mem[this.memHead++] = undefined as unknown as BacklogEntry;
      this.memBytes -= e.data?.length ?? 0;
      if (this.memHead === this.mem.length) {
        this.mem = [];
        this.memHead = 0;
      }
      return e;
    }
    if (this.readAt >= this.writeAt) return null;
    readSync(this.fd, this.header, 0, HEADER, this.readAt);
    const stream = this.header.readUInt8(0);
    const ts = this.header.readDoubleLE(1);
    const len = this.header.readUInt32LE(9);
    this.readAt += HEADER;
    let data: Buffer | null = null;
    if (len !== MARKER) {
      if (this.readBuf.length < len) this.readBuf = Buffer.allocUnsafe(Math.max(len, 64 * 1024));
      data = this.readBuf.subarray(0, len);
      readSync(this.fd, data, 0, len, this.readAt);
      this.readAt += len;
    }
    if (this.readAt >= this.writeAt) {
      this.close(); // read to the end: back to memory, starting with what could not be written
      this.mem = this.tail;
      this.memHead = 0;
      this.tail = [];
    }
    return { stream, ts, data };
  }

  /** Deletes the file, if any. */
  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    try {
      unlinkSync(this.file);
    } catch {
      // already gone
    }
    this.writeAt = 0;
    this.readAt = 0;
  }

  /** False (and the reason kept) when the file cannot be made. */
  private openFile(): boolean {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.file = join(this.dir, `backlog-${process.pid}-${Date.now()}.bin`);
      this.fd = openSync(this.file, 'w+', 0o600);
    } catch (err) {
      this.fileError = (err as Error).message;
      return false;
    }
    this.writeAt = 0;
    this.readAt = 0;
    return true;
  }
}

function writeAll(fd: number, b: Buffer, at: number): void {
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off, at + off);
}

/** Removes backlog files that agents killed before their exit left in `dir` (their pid is gone). */
export function sweepBacklogs(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^backlog-(\d+)-\d+\.bin$/.exec(name);
    if (!m) continue;
    if (!pidAlive(Number(m[1]))) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // another agent swept it first
      }
    }
  }
}
