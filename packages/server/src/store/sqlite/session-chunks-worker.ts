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
 * Nice 19 still let it take 25–50 % of a core under `bench ingest-http` (the gaps the pipeline's
 * threads leave while they wait for each other), so it also steps aside: while the process's other
 * threads queue for a CPU (cpu-contention.ts) it takes no step, up to CHUNK_DEFER_MAX_LAG_ROWS
 * rows unread, and catches up when they stop queuing. Measured on 2 cores, `bench ingest-http`
 * interleaved twice, median ÷ bare SQLite median: 1000 events/request 0.57 / 0.54 → 0.77 / 0.62,
 * 100 events/request 0.42 / 0.40 → 0.53 / 0.48.
 *
 * When it has no rows to follow, it compacts the chunk files of the days it has left complete
 * (compact-chunks.ts), a step at a time between its other work.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { nameThisThread } from '../../thread-name.js';
import { Compactions } from './compact-chunks.js';
import { CONTENDED_WAIT_RATIO, CpuContention } from './cpu-contention.js';
import { followDays } from './day-follower.js';
import { IndexProgress } from './index-file.js';
import { CHUNK_STEP_ROWS, chunkFile, SessionChunker } from './session-chunks.js';
import { niceThisThread } from './thread-priority.js';

nameThisThread('logsrv-chunks');

interface ChunkerData {
  dataDir: string;
  synchronous: 'normal' | 'full';
  flushMs: number;
  progress: SharedArrayBuffer;
  /** Hints from the writer: the day (`YYYYMMDD`) of each commit. */
  port: MessagePort;
  /** Overrides CONTENDED_WAIT_RATIO (tests: 0 is always contended). */
  deferWaitRatio?: number;
  /** Overrides CHUNK_DEFER_MAX_LAG_ROWS. */
  deferMaxLagRows?: number;
}

/**
 * While the process's other threads queue for a CPU (cpu-contention.ts), the thread waits this long
 * before it looks again, instead of taking its next step.
 */
const CONTENDED_WAIT_MS = 100;
/**
 * Rows the thread may leave unread while it steps aside: past them it takes its steps whatever the
 * contention (at nice 19), so a sustained overload cannot leave a day's sessions unchunked until
 * the day ends. ~30 s of ingest at the 2-core reference machine's rate; session pages read those
 * rows from the day file meanwhile.
 */
export const CHUNK_DEFER_MAX_LAG_ROWS = 4_000_000;

/** Steps still taken at close to catch up with the writer: a bound on how long closing takes. */
const CLOSE_CATCH_UP_STEPS = 5;

const { dataDir, synchronous, flushMs, progress, port, deferWaitRatio, deferMaxLagRows } = workerData as ChunkerData;
niceThisThread(19);
const contention = new CpuContention(deferWaitRatio ?? CONTENDED_WAIT_RATIO);
const maxLagRows = deferMaxLagRows ?? CHUNK_DEFER_MAX_LAG_ROWS;
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
  // Steps aside while the process's other threads queue for a CPU, up to maxLagRows unread.
  deferMs: (lag) => (contention.contended() && (lag === null || lag() < maxLagRows) ? CONTENDED_WAIT_MS : 0),
});
