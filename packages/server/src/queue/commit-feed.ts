/**
 * The commit feed: "these events are now committed", in commit order. Receivers learn from it
 * that their publishes are durable; the live hub learns from it what to send to tails. In one
 * process it is this in-memory fan-out; across processes the Redis queue carries the same
 * notices (redis-queue.ts), so a reader process can feed its hub without any writer in it.
 */
import type { IdentifiedBatch } from '../batch/index.js';

/** One commit: the entries it settled, and the events it stored (duplicates left out). */
export interface CommitNotice {
  /** Entries settled by this commit; `duplicates` are indices within the entry. */
  entries: { id: string; duplicates?: number[] }[];
  /** Set when the store refused the batch: its entries' publishers fail with it. */
  error?: Error;
  /** The events stored, with their ids; empty on error. */
  stored: IdentifiedBatch;
  /** The shard the batch came from (see TakenBatch.shard). */
  shard: number;
}

export type CommitListener = (n: CommitNotice) => void;

export interface CommitFeed {
  /** Calls `fn` for every commit from now on, in commit order; returns the unsubscribe. */
  subscribe(fn: CommitListener): () => void;
}

/** The in-process feed. Listeners run synchronously in subscription order and must not throw. */
export class LocalCommitFeed implements CommitFeed {
  private listeners: CommitListener[] = [];

  subscribe(fn: CommitListener): () => void {
    this.listeners = [...this.listeners, fn];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  emit(n: CommitNotice): void {
    for (const l of this.listeners) l(n);
  }
}
