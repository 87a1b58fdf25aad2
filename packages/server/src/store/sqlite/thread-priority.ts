/**
 * Lowering the priority of the calling thread (Linux): for threads whose work is derived data that
 * nobody waits for (the session chunk thread), so that on a busy machine they take only the CPU
 * that ingest and reads leave over instead of a share of it. And a worker's blocking sleep.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

const napCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread for `ms` (a worker's own wait; never on the main thread). */
export function sleepThisThread(ms: number): void {
  Atomics.wait(napCell, 0, 0, ms);
}

/** The kernel's id of the calling thread (`/proc/thread-self` → `<pid>/task/<tid>`), or null off Linux. */
export function currentThreadId(): number | null {
  try {
    const m = /\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Sets the calling thread's nice value (19: runs when nothing else wants the CPU). Lowering needs
 * no privilege; on systems without per-thread priorities it does nothing and returns false.
 */
export function niceThisThread(nice: number): boolean {
  return setThisThread(() => nice);
}

/**
 * Lowers the calling thread's priority by `steps` nice values from the one it has (at most to
 * 19), so that its weight relative to the process's other threads is the same whatever nice value
 * the process was started with. Returns false where threads have no priorities of their own.
 */
export function lowerThisThread(steps: number): boolean {
  return setThisThread((tid) => Math.min(19, getPriority(tid) + steps));
}

/** Sets the calling thread's nice value to `nice(its id)`; false where threads have no priorities of their own. */
function setThisThread(nice: (tid: number) => number): boolean {
  const tid = currentThreadId();
  if (tid === null) return false;
  try {
    setPriority(tid, nice(tid));
    return true;
  } catch {
    return false;
  }
}
