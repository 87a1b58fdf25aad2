/**
 * Whether this process's other threads are waiting for a CPU (Linux): for a thread whose work is
 * derived data nobody waits for (the session chunk thread), so that it steps aside while ingest is
 * short of CPU rather than only running at a low priority.
 *
 * Why nice 19 is not enough: on 2 cores under `bench ingest-http`, the chunk thread at nice 19
 * still took 25–50 % of a core, and ingest ran at 132k events/s with it against 155k without it.
 * A low weight only ranks runnable threads; the pipeline's threads (receiver, writer, index) hand
 * batches to each other and each waits for the next at times, and every such gap goes to the chunk
 * thread, whose step (a read transaction, rendering, a write) then holds caches, memory bandwidth
 * and the day file's WAL while the others are runnable again.
 *
 * The measure, two readings of every thread of the process but the caller, either of which says
 * contended:
 * - the kernel's per-thread run-queue wait (`/proc/self/task/<tid>/schedstat`, second field:
 *   nanoseconds spent runnable but not running), summed, per nanosecond of wall time. Above
 *   {@link CONTENDED_WAIT_RATIO}, ingest's threads are queuing for a CPU: the machine has nothing
 *   to spare. Waits caused by other processes count too — a machine saturated by anything is one
 *   where derived work should wait.
 * - how many are runnable right now (state `R` in `/proc/self/task/<tid>/stat`: running or
 *   queued): as many as the cores we may use, and whatever the caller runs makes one of them wait.
 *   The kernel adds a wait to the first figure only when it ends (the thread gets a CPU), so a
 *   thread kept waiting for long — low priority on a machine saturated by other processes — shows
 *   nothing in it meanwhile; the chunk thread read such quiet intervals as "not contended" and took
 *   steps (chunk-defer.int.test.ts failed that way in CI, and under 4 busy loops beside it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { currentThreadId, sleepThisThread } from './thread-priority.js';

/**
 * Run-queue wait of the other threads, per unit of wall time, that counts as contended: together
 * they waited for a CPU at least a tenth of the time. An idle or lightly loaded server measures
 * ~0.00–0.02 here; `bench ingest-http` on 2 cores 0.3–1.5.
 */
export const CONTENDED_WAIT_RATIO = 0.1;
/** Shortest interval between two readings: a reading costs ~0.2–0.5 ms (two files per thread). */
const CONTENTION_SAMPLE_MS = 50;
/** A previous reading older than this is not used: a fresh one is taken over CONTENTION_SAMPLE_MS. */
const CONTENTION_STALE_MS = 1000;

/** One reading of the process's threads but the caller. */
interface ThreadsReading {
  /** Sum of their run-queue waits so far (ns). */
  waitNs: number;
  /** How many are runnable (running or queued) now. */
  runnable: number;
}

/** Reads every thread of the process but `skip` once (schedstat and stat); null when unreadable. */
function readOtherThreads(skip: number | null): ThreadsReading | null {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return null;
  }
  let waitNs = 0;
  let runnable = 0;
  for (const tid of tids) {
    if (Number(tid) === skip) continue;
    try {
      waitNs += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[1]);
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      // "tid (comm) S ...": the name may hold spaces and parentheses; the state follows the last ')'.
      if (stat.charCodeAt(stat.lastIndexOf(')') + 2) === 0x52 /* R */) runnable++;
    } catch {
      // the thread ended between readdir and read
    }
  }
  return { waitNs, runnable };
}

/** How many of the process's threads but `skip` are runnable (running or queued) now; 0 when unreadable. */
export function otherThreadsRunnable(skip: number | null): number {
  return readOtherThreads(skip)?.runnable ?? 0;
}

/** Tracks the other threads' run-queue wait and runnable count between readings (see the file's comment). */
export class CpuContention {
  private readonly tid = currentThreadId();
  private lastWaitNs: number | null;
  private lastAt = performance.now();
  private ratio = 0;
  /** Other threads runnable at the last reading. */
  private runnable = 0;
  private readonly cores = availableParallelism();

  constructor(private readonly threshold = CONTENDED_WAIT_RATIO) {
    this.lastWaitNs = readOtherThreads(this.tid)?.waitNs ?? null;
  }

  /** False on systems without the kernel's figures: then nothing ever steps aside. */
  get available(): boolean {
    return this.lastWaitNs !== null;
  }

  /**
   * The other threads' run-queue wait per unit of wall time since the previous reading that was at
   * least CONTENTION_SAMPLE_MS ago (the last ratio again when called sooner). A previous reading
   * older than CONTENTION_STALE_MS says little about now: the caller's thread then blocks
   * CONTENTION_SAMPLE_MS for a fresh one. Each reading also counts the runnable threads.
   */
  waitRatio(): number {
    if (this.lastWaitNs === null) return 0;
    let now = performance.now();
    if (now - this.lastAt > CONTENTION_STALE_MS) {
      const base = readOtherThreads(this.tid);
      if (base === null) return 0;
      this.lastWaitNs = base.waitNs;
      this.lastAt = now;
      sleepThisThread(CONTENTION_SAMPLE_MS);
      now = performance.now();
    }
    const elapsedMs = now - this.lastAt;
    if (elapsedMs < CONTENTION_SAMPLE_MS) return this.ratio;
    const r = readOtherThreads(this.tid);
    if (r === null) return 0;
    // Threads that ended take their waits with them: the sum may go down; that reading counts 0.
    this.ratio = Math.max(0, r.waitNs - this.lastWaitNs) / (elapsedMs * 1e6);
    this.runnable = r.runnable;
    this.lastWaitNs = r.waitNs;
    this.lastAt = now;
    return this.ratio;
  }

  /**
   * The other threads are queuing for a CPU: their waits add up to {@link CONTENDED_WAIT_RATIO}
   * (the constructor's threshold), or as many of them as the cores were runnable at the reading
   * (both from one reading, at most CONTENTION_SAMPLE_MS old).
   */
  contended(): boolean {
    return this.waitRatio() >= this.threshold || this.runnable >= this.cores;
  }
}
