/**
 * The Queue seam between receivers and writers (SPEC §6). The embedded mode uses the in-process
 * {@link MemoryQueue}; scale-out puts Redis Streams behind the same interface.
 *
 * Contract:
 * - `publish` gives every event its id at once (acceptance order is id order within a session)
 *   and resolves only after a writer has committed the events, so HTTP can answer after
 *   durability. It learns of the commit from the queue's commit feed, never from a closure the
 *   writer holds: receivers and writers may be different processes. It fails at once with
 *   LOGSRV_ERR_QUEUE_FULL when the queue is over its bound — it never waits for room, so a
 *   receiver is never blocked by storage.
 * - A writer `take`s whole entries, commits them to the store, then `ack`s them (which tells the
 *   publishers and the live feed). An entry taken and never acked (a writer that died) is handed
 *   to another writer: the store's idempotency on ids makes the second commit a no-op for rows
 *   already stored.
 */
import type { NormalizedEvent } from '@logsrv/protocol';
import type { IdentifiedBatch, PackedEvents } from '../batch/index.js';

/** What a publisher learns once its events are committed. */
export interface Accepted {
  /** Indices (ascending) of events not stored because their `(producer, seq)` already was: they are acknowledged, and stored once. */
  duplicates?: number[];
}

/** One published batch as the queue keeps it. */
export interface EntryRef {
  /** The queue's name for the entry (the Redis stream entry id; a counter in memory). */
  id: string;
  /** Its events are `count` consecutive events of the taken batch. */
  count: number;
  /** The stream it came from, for queues with several (a shard number); 0 otherwise. */
  shard: number;
}

/**
 * Whole entries handed to one writer: in acceptance order within each shard (a batch may hold
 * entries of several shards, one shard's after another's).
 */
export interface TakenBatch extends IdentifiedBatch {
  entries: EntryRef[];
}

export interface Queue {
  /** `events` may come packed (the UDP receive thread's batches): a queue in this process keeps them so (IdentifiedBatch.packed). */
  publish(events: NormalizedEvent[] | PackedEvents, bytes: number): Promise<Accepted>;
  /** Writer side: waits for entries, then returns whole entries holding up to `maxEvents` events (at least one entry). Null once closed and drained. */
  take(maxEvents: number): Promise<TakenBatch | null>;
  /**
   * After the store committed `batch`: acknowledges its entries and announces the commit on the
   * feed. `skipped` are the batch indices of the events the store left out as duplicates.
   */
  ack(batch: TakenBatch, skipped: readonly number[] | undefined): Promise<void>;
  /**
   * The store could not commit `batch`. The memory queue fails its publishers with `err` (HTTP
   * answers 5xx, nothing was stored); a durable queue may leave the entries for a retry instead.
   */
  fail(batch: TakenBatch, err: Error): Promise<void>;
  /** Events waiting to be taken. */
  readonly depth: number;
  /** Stops accepting; `take` drains what is left, then returns null. */
  close(): void;
}
