/**
 * The index thread (index-file.ts): follows the day files the writer commits to and adds their
 * rows to each day's index file, so that tokenizing runs on another core than the writer's commit.
 *
 * The writer posts the day it committed to (a hint, on a port of its own) after every commit; this
 * thread reads what there is to index from the day file itself, from its watermark on, in
 * transactions of at most INDEX_STEP_ROWS rows, and publishes its progress (IndexProgress) after
 * each, which the writer waits on when the lag is over its bound. At start it first catches up
 * every day whose index is behind its file (after kill -9, the rows committed since the last
 * index transaction), oldest first.
 */
import { existsSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { parentPort, workerData } from 'node:worker_threads';
import { INDEX_STEP_ROWS, IndexFollower, IndexProgress, indexFile } from './index-file.js';
import { dayFile, listDays } from './schema.js';
import { serveRequests } from './worker-rpc.js';

interface IndexerData {
  dataDir: string;
  synchronous: 'normal' | 'full';
  searchChunkRows: number;
  progress: SharedArrayBuffer;
  /** Hints from the writer: the day (`YYYYMMDD`) of each commit. */
  port: MessagePort;
}

const { dataDir, synchronous, searchChunkRows, progress: shared, port } = workerData as IndexerData;
const progress = new IndexProgress(shared);

function dayNo(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8))) / 86_400_000;
}

/** Days to catch up, ascending; the first is the one being indexed. */
const days: string[] = [];
let current: { day: string; f: IndexFollower } | null = null;
let scheduled = false;
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

/** One step of the oldest day wanted; moves to the next day when this one is caught up. */
function pump(): void {
  scheduled = false;
  while (days.length > 0 && !closed) {
    const day = days[0] as string;
    try {
      if (current?.day !== day) {
        current?.f.close();
        current = null;
        if (!existsSync(indexFile(dataDir, day)) || !existsSync(dayFile(dataDir, day))) {
          days.shift(); // archived meanwhile, or started without an index
          continue;
        }
        current = { day, f: new IndexFollower(indexFile(dataDir, day), dayFile(dataDir, day), synchronous, searchChunkRows) };
      }
      const before = current.f.watermark();
      const after = current.f.step(INDEX_STEP_ROWS);
      progress.indexerAt(dayNo(day), after, Math.max(0, current.f.committed() - after));
      if (after > before) {
        schedule();
        return;
      }
      // Caught up. A later day wanted means the writer has left this one: it is complete.
      if (days.length === 1) return;
      days.shift();
    } catch (err) {
      // The day stays searchable (its unindexed rows are scanned); the next hint retries it.
      process.stderr.write(`logsrv: search index of ${day}: ${(err as Error).message}\n`);
      days.shift();
      current?.f.close();
      current = null;
    }
  }
}

port.on('message', (day: string) => {
  want(day);
  schedule();
});

for (const day of listDays(dataDir)) if (existsSync(indexFile(dataDir, day))) want(day);
schedule();

serveRequests((req) => {
  if (req.op === 'close') {
    closed = true;
    current?.f.close();
    current = null;
    port.close();
    return null;
  }
  throw new Error(`unknown op ${req.op}`);
}, parentPort);
