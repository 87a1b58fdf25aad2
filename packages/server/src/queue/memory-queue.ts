import type { NormalizedEvent } from '@logsrv/protocol';
import { formatBytes, LogsrvError } from '@logsrv/protocol';
import type { Committed, Queue, QueueEntry } from './queue.js';

export interface MemoryQueueOptions {
  /** Bound on events waiting to be written. */
  maxEvents: number;
  /** Bound on their serialized size. */
  maxBytes: number;
}

/**
 * The embedded queue: a FIFO of published batches in this process. Overflow policy: a publish
 * that would take the queue past either bound is refused at once (HTTP turns that into
 * `503 Retry-After`, UDP into a counted drop). An empty queue always admits one batch, so a
 * batch larger than the bounds cannot starve.
 */
export class MemoryQueue implements Queue {
  /** Entries before `head` have been taken; their slots are cleared so batches can be collected. */
  private entries: (QueueEntry | undefined)[] = [];
  private head = 0;
  private events = 0;
  private bytes = 0;
  private closed = false;
  private waiter: (() => void) | null = null;

  constructor(private readonly opts: MemoryQueueOptions) {}

  get depth(): number {
    return this.events;
  }

  publish(events: NormalizedEvent[], bytes: number): Promise<Committed> {
    if (this.closed) return Promise.reject(new LogsrvError('LOGSRV_ERR_SHUTTING_DOWN'));
    if (this.events > 0 && (this.events + events.length > this.opts.maxEvents || this.bytes + bytes > this.opts.maxBytes)) {
      return Promise.reject(
        new LogsrvError(
          'LOGSRV_ERR_QUEUE_FULL',
          `ingest queue is full: ${this.events} events / ${formatBytes(this.bytes)} waiting, limit ${this.opts.maxEvents} events / ${formatBytes(this.opts.maxBytes)} (--max-queue-events, --max-queue-bytes); retry shortly`,
        ),
      );
    }
    return new Promise<Committed>((resolve, reject) => {
      this.entries.push({ events, bytes, resolve, reject });
      this.events += events.length;
      this.bytes += bytes;
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
  }

  async take(maxEvents: number): Promise<QueueEntry[] | null> {
    while (this.head === this.entries.length) {
      if (this.closed) return null;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
    const out: QueueEntry[] = [];
    let n = 0;
    while (this.head < this.entries.length) {
      const e = this.entries[this.head] as QueueEntry;
      if (out.length > 0 && n + e.events.length > maxEvents) break;
      out.push(e);
      this.entries[this.head] = undefined;
      n += e.events.length;
      this.events -= e.events.length;
      this.bytes -= e.bytes;
      this.head++;
    }
    // Compact the array now and then instead of shift()ing every entry.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  close(): void {
    this.closed = true;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
