import type { EventId, NormalizedEvent } from '@logsrv/protocol';
import { type PackedEvents, unpackEvents } from './columns.js';

/**
 * Events with the ids their queue gave them when it accepted them: `events[i]` has id
 * `${ms[i]}-${seq[i]}`. Ids are assigned where an event is accepted (a counter in the memory
 * queue, the stream entry id in Redis) and only persisted by a store, so per-session id order is
 * acceptance order whatever writer stores the events. Along one batch ids strictly increase.
 */
export interface IdentifiedBatch {
  events: NormalizedEvent[];
  ms: Float64Array;
  seq: Float64Array;
  /**
   * The same events packed, when the batch arrived packed (the UDP receive thread hands its
   * batches over so): a store that sends batches to a thread of its own sends this one as it is,
   * and `events` is only made, once, if something reads it. Count events with `ms.length`.
   */
  packed?: PackedEvents;
}

/**
 * A batch that arrived packed: its event objects are made on first read of `events`. Without a
 * live tail or a duplicate to leave out, nothing reads them on the way to the SQLite store, which
 * spares the main thread an object per event (and their garbage collection) and a second packing.
 */
export function packedBatch(packed: PackedEvents, ms: Float64Array, seq: Float64Array): IdentifiedBatch {
  let events: NormalizedEvent[] | undefined;
  return {
    get events() {
      events ??= unpackEvents(packed);
      return events;
    },
    ms,
    seq,
    packed,
  };
}

/** Id of event `i` of a batch. */
export function idAt(b: IdentifiedBatch, i: number): EventId {
  return { ms: b.ms[i] as number, seq: b.seq[i] as number };
}

/** The batch without the events at `skip` (ascending indices); the batch itself when none. */
export function without(b: IdentifiedBatch, skip: readonly number[] | undefined): IdentifiedBatch {
  if (skip === undefined || skip.length === 0) return b;
  const n = b.ms.length - skip.length;
  const events: NormalizedEvent[] = new Array(n);
  const ms = new Float64Array(n);
  const seq = new Float64Array(n);
  let next = 0;
  let k = 0;
  const all = b.events;
  for (let i = 0; i < all.length; i++) {
    if (skip[next] === i) {
      next++;
      continue;
    }
    events[k] = all[i] as NormalizedEvent;
    ms[k] = b.ms[i] as number;
    seq[k] = b.seq[i] as number;
    k++;
  }
  return { events, ms, seq };
}

/** Ids for `n` events accepted after `last` at time `nowMs`: one ms, consecutive seqs. */
export class IdClock {
  private lastMs: number;
  private lastSeq: number;

  constructor(
    last: EventId | null,
    private readonly clock: () => number,
  ) {
    this.lastMs = last?.ms ?? 0;
    this.lastSeq = last?.seq ?? -1;
  }

  /**
   * Fills `ms`/`seq` from `at` for `n` events. A clock that went back is ignored (ids keep
   * increasing across restarts: the counter starts from the store's last id).
   */
  assign(ms: Float64Array, seq: Float64Array, at: number, n: number): void {
    const now = Math.max(this.clock(), this.lastMs);
    let s = now === this.lastMs ? this.lastSeq + 1 : 0;
    for (let i = 0; i < n; i++) {
      ms[at + i] = now;
      seq[at + i] = s++;
    }
    if (n > 0) {
      this.lastMs = now;
      this.lastSeq = s - 1;
    }
  }
}
