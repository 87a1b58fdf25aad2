/**
 * The writer: takes batches off the queue and commits them to the store. Whatever accumulated
 * while the previous commit ran goes into the next transaction together — group commit, so many
 * small requests share one fsync-free WAL append instead of one transaction each.
 */
import type { NormalizedEvent } from '@logsrv/protocol';
import type { Queue, QueueEntry } from '../queue/queue.js';
import type { AppendResult, Store } from '../store/store.js';

export interface WriterOptions {
  /** Most events in one transaction. */
  maxBatchEvents: number;
  /** Epoch-ms clock; injected in tests to cross day boundaries. */
  clock: () => number;
  /** Called after each commit with the events stored (duplicates left out) and their ids: events[i] got `${ms}-${seq0 + i}` (the live hub hangs here). */
  onCommit?: (events: NormalizedEvent[], ids: AppendResult) => void;
  onError?: (err: Error) => void;
  onBatch?: (events: number, seconds: number) => void;
}

/** Batches handed to the store before the first of them has committed. */
const PIPELINE = 2;

export class Writer {
  private running: Promise<void> | null = null;

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
   * commits appends in call order and answers in that order, so ids and `onCommit` calls stay in
   * commit order.
   */
  private async loop(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    for (;;) {
      while (inflight.size >= PIPELINE) await Promise.race(inflight);
      const entries = await this.queue.take(this.opts.maxBatchEvents);
      if (!entries) break;
      const p: Promise<void> = this.commit(entries).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await Promise.all(inflight);
  }

  private async commit(entries: QueueEntry[]): Promise<void> {
    let events: NormalizedEvent[];
    if (entries.length === 1) events = (entries[0] as QueueEntry).events;
    else {
      events = [];
      for (const e of entries) for (const ev of e.events) events.push(ev);
    }
    const t0 = performance.now();
    let ids: AppendResult;
    try {
      ids = await this.store.append(events, this.opts.clock());
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.opts.onError?.(e);
      for (const entry of entries) entry.reject(e);
      return;
    }
    this.opts.onBatch?.(events.length, (performance.now() - t0) / 1000);
    const skipped = ids.skipped;
    if (skipped === undefined || skipped.length === 0) {
      let seq = ids.seq0;
      for (const entry of entries) {
        entry.resolve({ ms: ids.ms, seq0: seq });
        seq += entry.events.length;
      }
      this.opts.onCommit?.(events, ids);
      return;
    }
    // Duplicates took no id: each entry's stored events follow the previous entry's, and the
    // live hub sees only what was stored, still numbered from seq0.
    const stored: NormalizedEvent[] = [];
    let next = 0; // index into skipped
    let at = 0; // index into the whole batch
    let seq = ids.seq0;
    for (const entry of entries) {
      const duplicates: number[] = [];
      for (let i = 0; i < entry.events.length; i++, at++) {
        if (skipped[next] === at) {
          duplicates.push(i);
          next++;
        } else stored.push(entry.events[i] as NormalizedEvent);
      }
      entry.resolve(duplicates.length > 0 ? { ms: ids.ms, seq0: seq, duplicates } : { ms: ids.ms, seq0: seq });
      seq += entry.events.length - duplicates.length;
    }
    if (stored.length > 0) this.opts.onCommit?.(stored, { ms: ids.ms, seq0: ids.seq0 });
  }
}
