/**
 * The session chunk thread (session-chunks.ts): follows the day files the writer commits to and
 * stores each session's events, rendered, together in the day's chunk file — off the writer's
 * thread and after its commit, so ingest does not wait for it. It follows them as day-follower.ts
 * describes, CHUNK_STEP_ROWS rows at a time; nobody waits on it: readers read what is past its
 * watermark from the day file.
 *
 * It runs at the lowest priority (nice 19): chunks only make reads faster, so on a machine busy
 * with ingest this thread gets the CPU left over and falls behind (pages read the rows past its
 * watermark from the day file, as before) instead of taking a share from the writer, the index
 * thread and the receiver. Measured on 2 cores (`bench query`'s ingest, 1000 events/request, index
 * on): 117k events/s before chunks, 65k with this thread at nice 0, 104k at nice 19.
 *
 * When it has no rows to follow, it compacts the chunk files of the days it has left complete
 * (compact-chunks.ts), a step at a time between its other work.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { Compactions } from './compact-chunks.js';
import { followDays } from './day-follower.js';
import { IndexProgress } from './index-file.js';
import { CHUNK_STEP_ROWS, chunkFile, SessionChunker } from './session-chunks.js';
import { niceThisThread } from './thread-priority.js';

interface ChunkerData {
  dataDir: string;
  synchronous: 'normal' | 'full';
  flushMs: number;
  progress: SharedArrayBuffer;
  /** Hints from the writer: the day (`YYYYMMDD`) of each commit. */
  port: MessagePort;
}

/** Steps still taken at close to catch up with the writer: a bound on how long closing takes. */
const CLOSE_CATCH_UP_STEPS = 5;

const { dataDir, synchronous, flushMs, progress, port } = workerData as ChunkerData;
niceThisThread(19);

const compactions = new Compactions(dataDir, (message) => process.stderr.write(`logsrv: ${message}\n`));

followDays({
  dataDir,
  port,
  progress: new IndexProgress(progress),
  what: 'session chunks',
  derivedFile: chunkFile,
  open: (chunkPath, dayPath) => new SessionChunker(chunkPath, dayPath, synchronous),
  stepRows: CHUNK_STEP_ROWS,
  flushDelayMs: (c) => {
    const { bytes, sinceMs } = c.buffered();
    return bytes > 0 ? Math.max(0, sinceMs + flushMs - Date.now()) : null;
  },
  closeCatchUpSteps: CLOSE_CATCH_UP_STEPS,
  dayDone: (day) => compactions.dayDone(day),
  idle: () => compactions.step(),
  onClose: () => compactions.close(),
});
