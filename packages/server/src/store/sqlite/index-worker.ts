/**
 * The index thread (index-file.ts): follows the day files the writer commits to and adds their
 * rows to each day's index file, so that tokenizing runs on another core than the writer's commit.
 * It follows them as day-follower.ts describes, in transactions of at most INDEX_STEP_ROWS rows;
 * the writer waits on its progress when the lag is over its bound.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { nameThisThread } from '../../thread-name.js';
import { followDays } from './day-follower.js';
import { INDEX_STEP_ROWS, INDEX_THREAD_NICE, IndexFollower, IndexProgress, indexFile } from './index-file.js';
import { lowerThisThread } from './thread-priority.js';

nameThisThread('logsrv-index');
// Below ingest's threads, above the session chunk thread's 19: see INDEX_THREAD_NICE.
lowerThisThread(INDEX_THREAD_NICE);

interface IndexerData {
  dataDir: string;
  synchronous: 'normal' | 'full';
  searchChunkRows: number;
  /** The writer waits past this lag (`--search-index-max-lag-rows`). */
  maxLagRows: number;
  /** The lag allowed while the writer's queue is pressed (`--search-index-burst-lag-rows`). */
  burstLagRows: number;
  progress: SharedArrayBuffer;
  /** Hints from the writer: the day (`YYYYMMDD`) of each commit. */
  port: MessagePort;
}

const { dataDir, synchronous, searchChunkRows, maxLagRows, burstLagRows, progress: progressBuffer, port } = workerData as IndexerData;
const progress = new IndexProgress(progressBuffer);

/**
 * While it chases a writer that keeps committing, a step waits until INDEX_MIN_STEP_ROWS rows are
 * there to take, or INDEX_MAX_STEP_WAIT_MS have passed. A step's cost is mostly per row, but not
 * only: each transaction adds an FTS5 segment that is merged again later and commits the index
 * file. Chasing the writer a commit at a time, it took steps of one or two commits' rows when its
 * own steps were quicker than the commits (200–300 rows in search-index-file.int.test.ts, at
 * ~30,000 rows/s); the same day file indexed in steps of 1000 / 5000 / 10,000 / 20,000 rows took
 * 3.9–4.1 / 3.2–3.3 / 3.3 / 3.2–3.4 µs of CPU per row.
 * A step that finds nothing new (no commit for INDEX_MAX_STEP_WAIT_MS) ends the chase: the thread
 * sleeps until the next hint, and answers it at once, as before (a line now and then is indexed
 * ~5 ms after its commit; at a steady trickle, within ~55 ms). The wait is
 * short of the writer's lag bound, so the writer never waits on it; searches stay exact meanwhile
 * (they scan the rows past the watermark).
 */
const INDEX_MIN_STEP_ROWS = 4096;
const INDEX_MAX_STEP_WAIT_MS = 50;
const INDEX_STEP_POLL_MS = 10;
const minStepRows = Math.min(INDEX_MIN_STEP_ROWS, Math.floor(maxLagRows / 4));
/**
 * While the writer's queue is pressed (Store.queuePressed: a burst the cores cannot take with the
 * index), the thread steps aside in waits of this many ms, until its lag is half the burst bound:
 * the CPU goes to receiving and committing, and the index catches up once the queue has drained.
 * Below the receive and writer threads' priority is not enough for that: in a 2-core run of
 * `bench udp-ingest` every thread waited in the run queue ~2 ms for each 1 ms it ran, the index
 * thread included, and it still took up to a third of a core.
 */
const PRESSED_WAIT_MS = 20;
/** When the current wait for a full step began (null: no wait). */
let waitingSince: number | null = null;

followDays({
  dataDir,
  port,
  progress,
  what: 'search index',
  derivedFile: indexFile,
  open: (indexPath, dayPath) => new IndexFollower(indexPath, dayPath, synchronous, searchChunkRows),
  stepRows: INDEX_STEP_ROWS,
  closeCatchUpSteps: 0,
  deferMs: (lag, chasing) => {
    if (lag !== null && progress.pressed && progress.lag() < burstLagRows / 2) {
      waitingSince = null;
      return PRESSED_WAIT_MS;
    }
    if (!chasing || lag === null || lag() >= minStepRows) {
      waitingSince = null;
      return 0;
    }
    const now = performance.now();
    waitingSince ??= now;
    const left = waitingSince + INDEX_MAX_STEP_WAIT_MS - now;
    if (left <= 0) {
      waitingSince = null;
      return 0;
    }
    // Looked at again every few ms: a full step's rows may be there before the time is up.
    return Math.min(left, INDEX_STEP_POLL_MS);
  },
});
