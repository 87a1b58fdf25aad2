/** The writer hands each queue entry the right ids when the store skipped duplicates inside a group commit. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import { MemoryQueue } from '../src/queue/memory-queue.ts';
import type { Committed } from '../src/queue/queue.ts';
import type { AppendResult, Store } from '../src/store/store.ts';
import { Writer } from '../src/writer/writer.ts';

function ev(value: string): NormalizedEvent {
  return {
    session: 's',
    key: 'k',
    value,
    vjson: 0,
    ts: null,
    component: null,
    user: null,
    terminal: null,
    step: null,
    level: null,
    attrs: null,
    producer: null,
    pseq: null,
  };
}

test('entries of one batch get consecutive ids for their stored events; duplicates are listed per entry and left out of onCommit', async () => {
  const queue = new MemoryQueue({ maxEvents: 1000, maxBytes: 1 << 20 });
  // The store skips batch indices 1, 2 and 4: entry A = [a0 a1 a2], entry B = [b0 b1 b2].
  const store = {
    append: async (events: NormalizedEvent[]): Promise<AppendResult> => {
      assert.equal(events.length, 6);
      return { ms: 1000, seq0: 7, skipped: [1, 2, 4] };
    },
  } as unknown as Store;
  const commits: { values: string[]; ids: AppendResult }[] = [];
  const writer = new Writer(queue, store, {
    maxBatchEvents: 100,
    clock: () => 1000,
    onCommit: (events, ids) => commits.push({ values: events.map((e) => e.value), ids }),
  });
  // Both entries are queued before the writer starts, so they share one transaction.
  const a = queue.publish([ev('a0'), ev('a1'), ev('a2')], 3);
  const b = queue.publish([ev('b0'), ev('b1'), ev('b2')], 3);
  writer.start();
  const [ra, rb] = (await Promise.all([a, b])) as [Committed, Committed];
  assert.deepEqual(ra, { ms: 1000, seq0: 7, duplicates: [1, 2] }); // a0 → 1000-7
  assert.deepEqual(rb, { ms: 1000, seq0: 8, duplicates: [1] }); // b0 → 1000-8, b2 → 1000-9
  assert.deepEqual(commits, [{ values: ['a0', 'b0', 'b2'], ids: { ms: 1000, seq0: 7 } }]);
  queue.close();
  await writer.drained();
});
