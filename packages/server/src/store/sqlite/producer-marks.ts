/**
 * The writer's producer marks in memory (idempotency: the rule is in writer-worker.ts): the
 * highest `seq` committed for each of the most recently used producers. Each day file's
 * `producers` table holds them durably; this is what the writer looks up first.
 */
import { detached } from '../../batch/index.js';

/** Producers whose marks stay in memory; one pushed out is looked up in the day file again. */
export const MAX_MARKS = 100_000;

export class ProducerMarks {
  /** In least-recently-used order: a producer is deleted and set again when its mark moves. */
  private readonly marks = new Map<string, number>();

  constructor(private readonly limit = MAX_MARKS) {}

  get size(): number {
    return this.marks.size;
  }

  get(producer: string): number | undefined {
    return this.marks.get(producer);
  }

  /** Sets a producer's mark, its most recent use; past the limit the least recent is forgotten. */
  remember(producer: string, seq: number): void {
    this.marks.delete(producer);
    // The key outlives the batch: a copy, not the slice of the batch's text the writer was given,
    // which would keep that text alive (32 KiB or more per producer; see detached()).
    this.marks.set(detached(producer), seq);
    if (this.marks.size > this.limit) this.marks.delete(this.marks.keys().next().value as string);
  }
}
