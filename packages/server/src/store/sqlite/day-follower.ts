/**
 * The loop of a thread that follows the day files the writer commits to and keeps a file derived
 * from each (the index thread: index-file.ts; the session chunk thread: session-chunks.ts).
 *
 * The writer posts the day it committed to (a hint, on a port of its own); the thread reads what
 * there is to follow from the day file itself, a step of at most `stepRows` rows at a time, and
 * publishes its watermark (IndexProgress) after each. Days are taken oldest first: a later day
 * wanted means the writer has left the earlier one, which is then complete. At start it first
 * catches up every day whose derived file is behind its day file (after kill -9). A day that
 * fails is left (its readers fall back on the day file) until its next hint.
 */
import { existsSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { parentPort } from 'node:worker_threads';
import { dayOf } from '@logsrv/protocol';
import type Database from 'better-sqlite3';
import type { IndexProgress } from './index-file.js';
import { dayFile, dayNumber, listDays } from './schema.js';
import { serveRequests } from './worker-rpc.js';

/** A thread's handle on one day: its derived file open for writing, the day file attached. */
export interface DayFollower {
  readonly db: Database.Database;
  /** Every row up to this rowid is in the derived file, on disk. */
  watermark(): number;
  /** Rows up to here are read (on disk, or buffered until {@link flush}). */
  readTo(): number;
  /** The day file's last committed rowid. */
  committed(): number;
  /** Reads at most `maxRows` more rows; returns {@link readTo}. */
  step(maxRows: number): number;
  /** Writes what is buffered, with the watermark. */
  flush(): void;
  close(): void;
}

export interface FollowDaysOptions<F extends DayFollower> {
  dataDir: string;
  /** The writer's hints: the day (`YYYYMMDD`) of each commit. */
  port: MessagePort;
  progress: IndexProgress;
  /** What the thread keeps, for messages ("search index"). */
  what: string;
  derivedFile(dataDir: string, day: string): string;
  open(derivedPath: string, dayPath: string): F;
  stepRows: number;
  /** A caught-up day's buffered rows are written after this many ms (null: nothing buffered). */
  flushDelayMs?(f: F): number | null;
  /** Steps taken at close to catch up with the writer's last commits (0: none). */
  closeCatchUpSteps: number;
  /** A day left complete: every row of it is in the derived file, and it gets no more. */
  dayDone?(day: string): void;
  /** Work taken a step at a time when no day has rows to follow; returns whether more remains. */
  idle?(): boolean;
  /** At close, after the last day is caught up: stops the idle work. */
  onClose?(): void;
  /**
   * Asked before each step, and each step of the idle work: ms to wait before it, 0 to take it now.
   * `lag` counts the rows of the followed day not read yet (null for the idle work). `chasing`:
   * the step before read rows, so the thread has not caught up with the writer since (false when
   * a hint wakes it after it had). Steps taken at close are not asked.
   */
  deferMs?(lag: (() => number) | null, chasing: boolean): number;
}

/** Runs the thread: hints, start-up catch-up, and the `close` request. */
export function followDays<F extends DayFollower>(o: FollowDaysOptions<F>): void {
  const { dataDir } = o;
  /** Days to catch up, ascending; the first is the one followed (`current`, once open). */
  const days: string[] = [];
  let current: { day: string; f: F } | null = null;
  let scheduled = false;
  let timer: NodeJS.Timeout | null = null;
  /** Set while the next step waits for {@link FollowDaysOptions.deferMs}; hints do not cut it short. */
  let deferred: NodeJS.Timeout | null = null;
  let closed = false;
  /** The idle work's last step said more remains (or a day was left since): worth a wait. */
  let idleMore = true;
  /** The last step of the followed day read rows: it has not caught up since. */
  let chasing = false;

  const want = (day: string): void => {
    if (days.includes(day)) return;
    if (current && day < current.day) return; // done with (days only move forward)
    days.push(day);
    days.sort();
  };

  /** Nothing to follow: a step of the idle work, and another pump after it while some remains. */
  const idle = (): void => {
    if (!o.idle || !idleMore || defer(null)) return;
    idleMore = o.idle();
    if (idleMore) schedule();
  };

  /** Waits as `deferMs` says before the next step: true when it does (a pump follows the wait). */
  const defer = (lag: (() => number) | null): boolean => {
    const ms = o.deferMs?.(lag, lag !== null && chasing) ?? 0;
    if (ms <= 0 || closed) return false;
    deferred = setTimeout(() => {
      deferred = null;
      schedule();
    }, ms);
    return true;
  };

  const schedule = (): void => {
    if (scheduled || closed || deferred !== null) return;
    scheduled = true;
    // setImmediate, not a loop: the writer's hints and `close` are handled between steps.
    setImmediate(pump);
  };

  const publish = (day: string, f: F, committed = f.committed()): void => {
    const built = f.watermark();
    o.progress.indexerAt(dayNumber(day), built, Math.max(0, committed - built));
  };

  const clearTimer = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
  };

  /** Writes what the followed day has buffered (time's up, the day is done, or closing). */
  const flushCurrent = (): void => {
    clearTimer();
    if (!current) return;
    current.f.flush();
    publish(current.day, current.f);
  };

  /** Stops following the current day, its buffered rows written. */
  const leave = (): void => {
    chasing = false;
    if (!current) return;
    flushCurrent();
    current.f.close();
    current = null;
  };

  /** Opens `day` as the followed day (leaving the one before); false when it has no files. */
  const follow = (day: string): boolean => {
    if (current?.day === day) return true;
    leave();
    const derived = o.derivedFile(dataDir, day);
    if (!existsSync(derived) || !existsSync(dayFile(dataDir, day))) return false; // archived meanwhile, or written without
    current = { day, f: o.open(derived, dayFile(dataDir, day)) };
    return true;
  };

  /** One step of the oldest day wanted; moves to the next day when this one is caught up. */
  const pump = (): void => {
    scheduled = false;
    while (days.length > 0 && !closed) {
      const day = days[0] as string;
      try {
        if (!follow(day)) {
          days.shift();
          continue;
        }
        const f = (current as { f: F }).f;
        const before = f.readTo();
        // The day file's last rowid, read at most once here: by the lag when asked, or to publish.
        let committed: number | undefined;
        const lag = (): number => {
          committed ??= f.committed();
          return committed - before;
        };
        if (defer(lag)) {
          // What it has buffered still goes out when due, waiting or not; and its progress is
          // published for the day it follows, even before its first step there.
          if (o.flushDelayMs?.(f) === 0) flushCurrent();
          else publish(day, f, committed);
          return;
        }
        const after = f.step(o.stepRows);
        publish(day, f);
        chasing = after > before;
        if (chasing) {
          schedule();
          return;
        }
        // Caught up. A later day wanted means the writer has left this one: it is complete.
        if (days.length === 1) {
          const wait = o.flushDelayMs?.(f) ?? null;
          if (wait !== null && timer === null) timer = setTimeout(flushCurrent, wait);
          idle();
          return;
        }
        leave();
        days.shift();
        o.dayDone?.(day);
        idleMore = true;
      } catch (err) {
        process.stderr.write(`logsrv: ${o.what} of ${day}: ${(err as Error).message}\n`);
        days.shift();
        clearTimer();
        try {
          current?.f.close();
        } catch {
          // already closed
        }
        current = null;
      }
    }
    if (days.length === 0 && !closed) idle();
  };

  /**
   * At close: the writer's last hints may not have arrived (they are sent after a delay), so the
   * days up to the writer's (IndexProgress) are wanted too; all are caught up within
   * `closeCatchUpSteps` steps in all, so that a clean stop leaves little to rebuild at the next start.
   */
  const catchUpAtClose = (): void => {
    const writerDay = o.progress.writerDay();
    if (writerDay !== null) {
      const last = dayOf(writerDay * 86_400_000);
      const known = days[days.length - 1] ?? '';
      for (const d of listDays(dataDir)) if (d > known && d <= last && existsSync(o.derivedFile(dataDir, d))) want(d);
    }
    let steps = o.closeCatchUpSteps;
    for (const day of [...days]) {
      if (!follow(day)) continue;
      const f = (current as { f: F }).f;
      for (; steps > 0 && f.readTo() < f.committed(); steps--) f.step(o.stepRows);
      flushCurrent();
    }
  };

  o.port.on('message', (day: string) => {
    want(day);
    schedule();
  });

  for (const day of listDays(dataDir)) if (existsSync(o.derivedFile(dataDir, day))) want(day);
  schedule();

  serveRequests((req) => {
    if (req.op !== 'close') throw new Error(`unknown op ${req.op}`);
    closed = true;
    if (deferred !== null) clearTimeout(deferred);
    deferred = null;
    try {
      if (o.closeCatchUpSteps > 0) catchUpAtClose();
      flushCurrent();
    } catch (err) {
      process.stderr.write(`logsrv: ${o.what}: ${(err as Error).message}\n`);
    }
    o.onClose?.();
    clearTimer();
    current?.f.close();
    current = null;
    o.port.close();
    return null;
  }, parentPort);
}

/**
 * The writer's side: "committed to this day" is posted `delayMs` after a commit, once for all the
 * commits in between, not inside each commit (see writer-worker.ts for why). A commit to a new
 * day sends the previous day's hint first, so the thread hears of every day.
 */
export class DelayedHint {
  private day: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly port: MessagePort,
    private readonly delayMs: number,
  ) {}

  /** A hint is waiting for its timer. */
  get pending(): boolean {
    return this.day !== null;
  }

  commit(day: string): void {
    if (this.day !== null && this.day !== day) this.send();
    this.day = day;
    this.timer ??= setTimeout(() => this.send(), this.delayMs);
  }

  /** Sends the waiting hint now. */
  send(): void {
    const day = this.day;
    this.cancel();
    if (day !== null) this.port.postMessage(day);
  }

  /** Drops the waiting hint (at close: the thread catches up from the writer's progress, or at its next start). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.day = null;
  }
}
