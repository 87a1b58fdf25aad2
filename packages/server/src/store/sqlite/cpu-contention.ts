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
/** Shortest interval between two readings: a reading costs ~0.1–0.3 ms (a file per thread). */
const CONTENTION_SAMPLE_MS = 50;
/** A previous reading older than this is not used: a fresh one is taken over CONTENTION_SAMPLE_MS. */
const CONTENTION_STALE_MS = 1000;

/** The process's threads but `skip`, or null when unreadable. */
function otherThreads(skip: number | null): string[] | null {
  try {
    return readdirSync('/proc/self/task').filter((tid) => Number(tid) !== skip);
  } catch {
    return null;
  }
}

/** Sum of the run-queue waits (ns) of the process's threads but `skip`, or null when unreadable. */
function otherThreadsRunQueueWaitNs(skip: number | null): number | null {
  const tids = otherThreads(skip);
  if (tids === null) return null;
  let sum = 0;
  for (const tid of tids) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ');
      sum += Number(fields[1]);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return sum;
}

/** How many of the process's threads but `skip` are runnable (running or queued) now; 0 when unreadable. */
export function otherThreadsRunnable(skip: number | null): number {
  let n = 0;
  for (const tid of otherThreads(skip) ?? []) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      // "tid (comm) S ...": the name may hold spaces and parentheses; the state follows the last ')'.
      if (stat.charCodeAt(stat.lastIndexOf(')') + 2) === 0x52 /* R */) n++;
    } catch {
      // the thread ended between readdir and read
    }
  }
  return n;
}

/** Tracks the other threads' run-queue wait between readings (see the file's comment). */
export class CpuContention {
  private readonly tid = currentThreadId();
  private lastWaitNs: number | null;
  private lastAt = performance.now();
  private ratio = 0;
  private readonly cores = availableParallelism();

  constructor(private readonly threshold = CONTENDED_WAIT_RATIO) {
    this.lastWaitNs = otherThreadsRunQueueWaitNs(this.tid);
  }

  /** False on systems without the kernel's figures: then nothing ever steps aside. */
  get available(): boolean {
    return this.lastWaitNs !== null;
  }

  /**
   * The other threads' run-queue wait per unit of wall time since the previous reading that was at
   * least CONTENTION_SAMPLE_MS ago (the last ratio again when called sooner). A previous reading
   * older than CONTENTION_STALE_MS says little about now: the caller's thread then blocks
   * CONTENTION_SAMPLE_MS for a fresh one.
   */
  waitRatio(): number {
    if (this.lastWaitNs === null) return 0;
    let now = performance.now();
    if (now - this.lastAt > CONTENTION_STALE_MS) {
      const base = otherThreadsRunQueueWaitNs(this.tid);
      if (base === null) return 0;
      this.lastWaitNs = base;
      this.lastAt = now;
      sleepThisThread(CONTENTION_SAMPLE_MS);
      now = performance.now();
    }
    const elapsedMs = now - this.lastAt;
    if (elapsedMs < CONTENTION_SAMPLE_MS) return this.ratio;
    const wait = otherThreadsRunQueueWaitNs(this.tid);
    if (wait === null) return 0;
    // Threads that ended take their waits with them: the sum may go down; that reading counts 0.
    this.ratio = Math.max(0, wait - this.lastWaitNs) / (elapsedMs * 1e6);
    this.lastWaitNs = wait;
    this.lastAt = now;
    return this.ratio;
  }

  /**
   * The other threads are queuing for a CPU: their waits add up to {@link CONTENDED_WAIT_RATIO}
   * (the constructor's threshold), or as many of them as the cores are runnable now.
   */
  contended(): boolean {
    return this.waitRatio() >= this.threshold || otherThreadsRunnable(this.tid) >= this.cores;
  }
}
