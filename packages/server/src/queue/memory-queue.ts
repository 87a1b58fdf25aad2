import type { EventId, NormalizedEvent } from '@logsrv/protocol';
import { formatBytes, LogsrvError } from '@logsrv/protocol';
import { concatPacked, IdClock, isPacked, type PackedEvents, packedBatch, unpackEvents, without } from '../batch/index.js';
import type { CommitNotice } from './commit-feed.js';
import { LocalCommitFeed } from './commit-feed.js';
import { Fifo } from './fifo.js';
import type { Accepted, EntryRef, Queue, TakenBatch } from './queue.js';

export interface MemoryQueueOptions {
  /** Bound on events waiting to be written. */
  maxEvents: number;
  /** Bound on their serialized size. */
  maxBytes: number;
  /** The newest id already stored: ids continue after it (null for an empty store). */
  lastId: EventId | null;
  /** Epoch-ms clock for ids; tests inject one to cross midnight. */
  clock: () => number;
}

interface Entry {
  id: string;
  /** The events as published: objects, or packed (kept so, see IdentifiedBatch.packed). */
  events: NormalizedEvent[] | PackedEvents;
  n: number;
  ms: Float64Array;
  seq: Float64Array;
  bytes: number;
}

interface Waiting {
  resolve(a: Accepted): void;
  reject(err: Error): void;
}

/**
 * The embedded queue: a FIFO of published batches in this process, and the commit feed that
 * settles them. Overflow policy: a publish that would take the queue past either bound is refused
 * at once (HTTP turns that into `503 Retry-After`, UDP into a counted drop). An empty queue always
 * admits one batch, so a batch larger than the bounds cannot starve. Ids come from one counter,
 * so they increase in acceptance order across all sessions.
 */
export class MemoryQueue implements Queue {
  readonly feed = new LocalCommitFeed();
  /** Entries not taken yet, oldest first. */
  private readonly entries = new Fifo<Entry>();
  private events = 0;
  private bytes = 0;
  private closed = false;
  private waiter: (() => void) | null = null;
  private nextEntry = 0;
  private readonly ids: IdClock;
  /** Publishers waiting for their entry's commit notice, by entry id. */
  private readonly waiting = new Map<string, Waiting>();

  constructor(private readonly opts: MemoryQueueOptions) {
    this.ids = new IdClock(opts.lastId, opts.clock);
    // Publishers learn of their commit from the feed, as they would across processes.
    this.feed.subscribe(this.settle);
  }

  get depth(): number {
    return this.events;
  }

  publish(events: NormalizedEvent[] | PackedEvents, bytes: number): Promise<Accepted> {
    if (this.closed) return Promise.reject(new LogsrvError('LOGSRV_ERR_SHUTTING_DOWN'));
    const n = isPacked(events) ? events.n : events.length;
    if (this.events > 0 && (this.events + n > this.opts.maxEvents || this.bytes + bytes > this.opts.maxBytes)) {
      return Promise.reject(
        new LogsrvError(
          'LOGSRV_ERR_QUEUE_FULL',
          `ingest queue is full: ${this.events} events / ${formatBytes(this.bytes)} waiting, limit ${this.opts.maxEvents} events / ${formatBytes(this.opts.maxBytes)} (--max-queue-events, --max-queue-bytes); retry shortly`,
        ),
      );
    }
    const ms = new Float64Array(n);
    const seq = new Float64Array(n);
    this.ids.assign(ms, seq, 0, n);
    const id = String(this.nextEntry++);
    return new Promise<Accepted>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.entries.push({ id, events, n, ms, seq, bytes });
      this.events += n;
      this.bytes += bytes;
      const w = this.waiter;
      this.waiter = null;
      w?.();
    });
  }

  async take(maxEvents: number): Promise<TakenBatch | null> {
    while (this.entries.size === 0) {
      if (this.closed) return null;
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
    const taken: Entry[] = [];
    let n = 0;
    for (let e = this.entries.peek(); e !== undefined; e = this.entries.peek()) {
      if (taken.length > 0 && n + e.n > maxEvents) break;
      taken.push(e);
      this.entries.shift();
      n += e.n;
      this.events -= e.n;
      this.bytes -= e.bytes;
    }
    return join(taken, n);
  }

  async ack(batch: TakenBatch, skipped: readonly number[] | undefined): Promise<void> {
    const entries: CommitNotice['entries'] = [];
    let next = 0; // index into skipped
    let at = 0; // index into the batch
    for (const e of batch.entries) {
      let duplicates: number[] | undefined;
      for (let i = 0; i < e.count; i++, at++) {
        if (skipped !== undefined && skipped[next] === at) {
          duplicates ??= [];
          duplicates.push(i);
          next++;
        }
      }
      entries.push(duplicates ? { id: e.id, duplicates } : { id: e.id });
    }
    this.feed.emit({ entries, stored: without(batch, skipped), shard: 0 });
  }

  async fail(batch: TakenBatch, err: Error): Promise<void> {
    this.feed.emit({
      entries: batch.entries.map((e) => ({ id: e.id })),
      error: err,
      stored: { events: [], ms: new Float64Array(0), seq: new Float64Array(0) },
      shard: 0,
    });
  }

  close(): void {
    this.closed = true;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private readonly settle = (n: CommitNotice): void => {
    for (const e of n.entries) {
      const w = this.waiting.get(e.id);
      if (!w) continue;
      this.waiting.delete(e.id);
      if (n.error) w.reject(n.error);
      else w.resolve(e.duplicates ? { duplicates: e.duplicates } : {});
    }
  };
}

/**
 * Whole entries as one batch; a single entry is handed over without copying. Entries that all came
 * packed stay packed (their event objects made only if read); else every entry becomes objects.
 */
function join(taken: Entry[], n: number): TakenBatch {
  const entries: EntryRef[] = taken.map((e) => ({ id: e.id, count: e.n, shard: 0 }));
  const one = taken.length === 1 ? (taken[0] as Entry) : null;
  const ms = one ? one.ms : new Float64Array(n);
  const seq = one ? one.seq : new Float64Array(n);
  if (!one) {
    let at = 0;
    for (const e of taken) {
      ms.set(e.ms, at);
      seq.set(e.seq, at);
      at += e.n;
    }
  }
  if (taken.every((e) => isPacked(e.events))) {
    return Object.assign(packedBatch(concatPacked(taken.map((e) => e.events as PackedEvents)), ms, seq), { entries });
  }
  if (one) return { events: one.events as NormalizedEvent[], ms, seq, entries };
  const events: NormalizedEvent[] = [];
  for (const e of taken) for (const ev of isPacked(e.events) ? unpackEvents(e.events) : e.events) events.push(ev);
  return { events, ms, seq, entries };
}
