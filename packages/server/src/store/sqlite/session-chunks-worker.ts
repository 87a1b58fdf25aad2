/**
 * The session chunk thread (session-chunks.ts): follows the day files the writer commits to and
 * stores each session's events, rendered, together in the day's chunk file — off the writer's
 * thread and after its commit, so ingest does not wait for it.
 *
 * The writer posts the day it committed to (a hint, on a port of its own) after every commit; this
 * thread reads the rows to render from the day file itself, from what it has read on, a step of
 * at most CHUNK_STEP_ROWS rows at a time, and publishes its watermark (the progress of
 * index-file.ts's IndexProgress, in a buffer of its own). Nobody waits on it: readers read what is
 * past the watermark from the day file. At start it first catches up every day whose chunks are
 * behind its file (after kill -9, the rows committed since the last flush), oldest first.
 *
 * It runs at the lowest priority (nice 19): chunks only make reads faster, so on a machine busy
 * with ingest this thread gets the CPU left over and falls behind (pages read the rows past its
 * watermark from the day file, as before) instead of taking a share from the writer, the index
 * thread and the receiver. Measured on 2 cores (`bench query`'s ingest, 1000 events/request, index
 * on): 117k events/s before chunks, 65k with this thread at nice 0, 104k at nice 19.
 */
import { existsSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { parentPort, workerData } from 'node:worker_threads';
import { IndexProgress } from './index-file.js';
import { dayFile, listDays } from './schema.js';
import { CHUNK_STEP_ROWS, chunkFile, SessionChunker } from './session-chunks.js';
import { niceThisThread } from './thread-priority.js';
import { serveRequests } from './worker-rpc.js';

interface ChunkerData {
  dataDir: string;
  synchronous: 'normal' | 'full';
  flushMs: number;
  progress: SharedArrayBuffer;
  /** Hints from the writer: the day (`YYYYMMDD`) of each commit. */
  port: MessagePort;
}

const { dataDir, synchronous, flushMs, progress: shared, port } = workerData as ChunkerData;
const progress = new IndexProgress(shared);
niceThisThread(19);

function dayNo(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8))) / 86_400_000;
}

/** Steps of the current day still taken at close: a bound on how long closing takes. */
const CLOSE_CATCH_UP_STEPS = 5;

/** Days to catch up, ascending; the first is the one being followed. */
const days: string[] = [];
let current: { day: string; c: SessionChunker } | null = null;
let scheduled = false;
let timer: NodeJS.Timeout | null = null;
let closed = false;

function want(day: string): void {
  if (days.includes(day)) return;
  if (current && day < current.day) return; // done with (days only move forward)
  days.push(day);
  days.sort();
}

function schedule(): void {
  if (scheduled || closed) return;
  scheduled = true;
  // setImmediate, not a loop: the writer's hints and `close` are handled between steps.
  setImmediate(pump);
}

function publish(day: string, c: SessionChunker): void {
  const built = c.watermark();
  progress.indexerAt(dayNo(day), built, Math.max(0, c.committed() - built));
}

/** Writes the buffered chunks of the current day (time's up, the day is done, or closing). */
function flushCurrent(): void {
  if (timer) clearTimeout(timer);
  timer = null;
  if (!current) return;
  current.c.flush();
  publish(current.day, current.c);
}

/** One step of the oldest day wanted; moves to the next day when this one is caught up. */
function pump(): void {
  scheduled = false;
  while (days.length > 0 && !closed) {
    const day = days[0] as string;
    try {
      if (current?.day !== day) {
        if (current) flushCurrent();
        current?.c.close();
        current = null;
        if (!existsSync(chunkFile(dataDir, day)) || !existsSync(dayFile(dataDir, day))) {
          days.shift(); // archived meanwhile, or written before chunks
          continue;
        }
        current = { day, c: new SessionChunker(chunkFile(dataDir, day), dayFile(dataDir, day), synchronous) };
      }
      const c = current.c;
      const before = c.readTo();
      const after = c.step(CHUNK_STEP_ROWS);
      publish(day, c);
      if (after > before) {
        schedule();
        return;
      }
      // Caught up. A later day wanted means the writer has left this one: it is complete.
      if (days.length === 1) {
        const { bytes, sinceMs } = c.buffered();
        if (bytes > 0 && timer === null) timer = setTimeout(flushCurrent, Math.max(0, sinceMs + flushMs - Date.now()));
        return;
      }
      flushCurrent();
      c.close();
      current = null;
      days.shift();
    } catch (err) {
      // The day's sessions stay readable from its day file; the next hint retries it.
      process.stderr.write(`logsrv: session chunks of ${day}: ${(err as Error).message}\n`);
      days.shift();
      if (timer) clearTimeout(timer);
      timer = null;
      try {
        current?.c.close();
      } catch {
        // already closed
      }
      current = null;
    }
  }
}

port.on('message', (day: string) => {
  want(day);
  schedule();
});

for (const day of listDays(dataDir)) if (existsSync(chunkFile(dataDir, day))) want(day);
schedule();

serveRequests((req) => {
  if (req.op === 'close') {
    closed = true;
    // What is buffered is written now, with the current day's last commits if few (the writer
    // is idle by now): a clean stop leaves little or nothing to rebuild at the next start.
    try {
      // The writer's last hints may not have reached this thread (they are sent after a delay, and
      // this thread runs at nice 19): every day wanted, and the newest day with a chunk file (the
      // writer's), caught up within CLOSE_CATCH_UP_STEPS steps in all.
      const todo = new Set(days);
      const newest = listDays(dataDir)
        .filter((d) => existsSync(chunkFile(dataDir, d)))
        .pop();
      if (newest !== undefined) todo.add(newest);
      if (current) todo.add(current.day);
      let steps = CLOSE_CATCH_UP_STEPS;
      for (const day of [...todo].sort()) {
        if (current?.day !== day) {
          if (current) {
            flushCurrent();
            current.c.close();
            current = null;
          }
          if (!existsSync(chunkFile(dataDir, day)) || !existsSync(dayFile(dataDir, day))) continue;
          current = { day, c: new SessionChunker(chunkFile(dataDir, day), dayFile(dataDir, day), synchronous) };
        }
        for (; steps > 0 && current.c.readTo() < current.c.committed(); steps--) current.c.step(CHUNK_STEP_ROWS);
        flushCurrent();
      }
      flushCurrent();
    } catch (err) {
      process.stderr.write(`logsrv: session chunks: ${(err as Error).message}\n`);
    }
    current?.c.close();
    current = null;
    port.close();
    return null;
  }
  throw new Error(`unknown op ${req.op}`);
}, parentPort);
