/**
 * The Queue seam between receivers and the writer (SPEC §6). The embedded mode uses the
 * in-process {@link MemoryQueue}; scale-out will put Redis Streams behind the same interface.
 *
 * Contract: `publish` resolves only after a writer has committed the events (so HTTP can answer
 * after durability), and fails at once with LOGSRV_ERR_QUEUE_FULL when the queue is over its
 * bound — it never waits for room, so a receiver is never blocked by storage.
 */
import type { NormalizedEvent } from '@logsrv/protocol';

/**
 * Where one published batch landed: its i-th stored event got id `${ms}-${seq0 + i}`; without
 * `duplicates`, that is event i of the batch.
 */
export interface Committed {
  ms: number;
  seq0: number;
  /** Indices (ascending) of events not stored because their `(producer, seq)` already was: they are acknowledged, and take no id. */
  duplicates?: number[];
}

export interface QueueEntry {
  events: NormalizedEvent[];
  bytes: number;
  resolve(c: Committed): void;
  reject(err: Error): void;
}

export interface Queue {
  publish(events: NormalizedEvent[], bytes: number): Promise<Committed>;
  /** Writer side: waits for entries, then returns whole entries holding up to `maxEvents` events (at least one entry). Null once closed and drained. */
  take(maxEvents: number): Promise<QueueEntry[] | null>;
  /** Events waiting to be taken. */
  readonly depth: number;
  /** Stops accepting; `take` drains what is left, then returns null. */
  close(): void;
}
