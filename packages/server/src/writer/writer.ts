/**
 * The writer: takes batches off the queue, commits them to the store, then acknowledges them to
 * the queue — which tells the publishers and the live feed. Whatever accumulated while the
 * previous commit ran goes into the next transaction together — group commit, so many small
 * requests share one fsync-free WAL append instead of one transaction each.
 *
 * The writer holds no closure of any publisher: acknowledgement goes through the queue, so a
 * writer may run in another process than the receivers (--role writer).
 */
import type { Queue, TakenBatch } from '../queue/queue.js';
import type { Store } from '../store/store.js';

export interface WriterOptions {
  /** Most events in one transaction. */
  maxBatchEvents: number;
  onError?: (err: Error) => void;
  onBatch?: (events: number, seconds: number) => void;
  /**
   * Events waiting in the queue at which the store is told the queue is pressed
   * (Store.queuePressed), until fewer than half as many wait. Unset: never.
   */
  pressedDepth?: number;
}

/** How often the queue's depth is looked at for Store.queuePressed while the writer runs. */
const PRESSURE_POLL_MS = 10;

/** Batches handed to the store before the first of them has committed. */
const PIPELINE = 2;

export class Writer {
  private running: Promise<void> | null = null;
  private pressed = false;

  constructor(
    private readonly queue: Queue,
    private readonly store: Store,
    private readonly opts: WriterOptions,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Resolves when the queue is closed and everything in it has been committed (or failed). */
  async drained(): Promise<void> {
    await this.running;
  }

  /**
   * Keeps up to PIPELINE batches outstanding at the store. With one, the writer thread sat idle
   * while the next batch was taken, copied across and the reply went back through the busy main
   * thread (writer thread ~65% busy while an append was outstanding ~97% of the time). The store
   * commits appends in call order and answers in that order, so acknowledgements (and the live
   * feed) stay in commit order.
   */
  private async loop(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    // The depth changes with every publish, also while both appends wait at the store.
    const poll = this.opts.pressedDepth === undefined ? null : setInterval(() => this.checkPressure(), PRESSURE_POLL_MS);
    try {
      for (;;) {
        while (inflight.size >= PIPELINE) await Promise.race(inflight);
        const batch = await this.queue.take(this.opts.maxBatchEvents);
        if (!batch) break;
        this.checkPressure();
        const p: Promise<void> = this.commit(batch).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.all(inflight);
    } finally {
      if (poll) clearInterval(poll);
      this.press(false);
    }
  }

  /** Tells the store when the queue becomes pressed (WriterOptions.pressedDepth) and when it no longer is. */
  private checkPressure(): void {
    const at = this.opts.pressedDepth;
    if (at === undefined) return;
    const depth = this.queue.depth;
    this.press(this.pressed ? depth >= at / 2 : depth >= at);
  }

  private press(pressed: boolean): void {
    if (pressed === this.pressed) return;
    this.pressed = pressed;
    this.store.queuePressed?.(pressed);
  }

  private async commit(batch: TakenBatch): Promise<void> {
    const t0 = performance.now();
    let skipped: number[] | undefined;
    try {
      skipped = (await this.store.append(batch)).skipped;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.opts.onError?.(e);
      await this.queue.fail(batch, e);
      return;
    }
    this.opts.onBatch?.(batch.ms.length, (performance.now() - t0) / 1000);
    await this.queue.ack(batch, skipped);
  }
}
