/**
 * The writer against a real SQLite store: ids come from the queue at acceptance, duplicates are
 * reported per entry, and the commit feed carries only what was stored, with its ids.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import type { CommitNotice } from '@logsrv/server';
import { MemoryQueue, SqliteStore, Writer } from '@logsrv/server';
import { packEvents } from '../src/batch/columns.ts';
import { INSERT_ROWS } from '../src/store/sqlite/schema.ts';
import { ev as base } from './contract/events.ts';

/** An event of session `s`; with `pseq`, from producer `p`. */
function ev(value: string, pseq: number | null = null): NormalizedEvent {
  return base('s', value, pseq === null ? { key: 'k' } : { key: 'k', producer: 'p', pseq });
}

/** Runs `body` against a real SQLite store in a fresh directory (`make` builds it), then closes and removes both. */
async function withStore(
  body: (store: SqliteStore) => Promise<void>,
  make = (dataDir: string) => new SqliteStore({ dataDir, readerThreads: 1, synchronous: 'normal' }),
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-writer-'));
  const store = make(dir);
  try {
    await body(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a group commit of two entries: ids from the queue, duplicates per entry, the feed carries the stored events with their ids', () =>
  withStore(async (store) => {
    const queue = new MemoryQueue({ maxEvents: 1000, maxBytes: 1 << 20, lastId: { ms: 1000, seq: 4 }, clock: () => 1000 });
    const seen: CommitNotice[] = [];
    queue.feed.subscribe((n) => seen.push(n));
    const writer = new Writer(queue, store, { maxBatchEvents: 100 });
    // Both entries are queued before the writer starts, so they share one transaction. Producer
    // p's seq 1 is sent twice within the first entry and again in the second: stored once.
    const a = queue.publish([ev('a0', 1), ev('a1', 1), ev('a2')], 3);
    const b = queue.publish([ev('b0', 1), ev('b1', 2), ev('b2')], 3);
    writer.start();
    const [ra, rb] = await Promise.all([a, b]);
    assert.deepEqual(ra, { duplicates: [1] });
    assert.deepEqual(rb, { duplicates: [0] });
    assert.equal(seen.length, 1, 'one transaction, one notice');
    const stored = (seen[0] as CommitNotice).stored;
    // Ids continue after the store's last id, in acceptance order; duplicates keep their gap.
    const ids = Array.from(stored.events, (_e, i) => `${stored.ms[i]}-${stored.seq[i]}`);
    assert.deepEqual(
      stored.events.map((e) => e.value),
      ['a0', 'a2', 'b1', 'b2'],
    );
    assert.deepEqual(ids, ['1000-5', '1000-7', '1000-9', '1000-10']);
    const page = await store.readSession({ session: 's', after: null, limit: 10 });
    assert.deepEqual(
      page.events.map((e) => `${e.id} ${e.value}`),
      ['1000-5 a0', '1000-7 a2', '1000-9 b1', '1000-10 b2'],
    );
    queue.close();
    await writer.drained();
  }));

test('entries published packed (as the UDP receive thread hands them over) are committed as they came, objects made only when read', () =>
  withStore(async (store) => {
    const queue = new MemoryQueue({ maxEvents: 1000, maxBytes: 1 << 20, lastId: null, clock: () => 2000 });
    const seen: CommitNotice[] = [];
    queue.feed.subscribe((n) => seen.push(n));
    const writer = new Writer(queue, store, { maxBatchEvents: 100 });
    // Round 1: two packed entries, one transaction; a text chunk boundary inside the first.
    const r1 = [queue.publish(packEvents([ev('p0'), ev('p1')], 3), 2), queue.publish(packEvents([ev('q0')]), 1)];
    writer.start();
    assert.deepEqual(await Promise.all(r1), [{}, {}]);
    const first = (seen[0] as CommitNotice).stored;
    assert.ok(first.packed, 'two packed entries taken together stay packed');
    assert.equal(first.packed.n, 3);
    assert.deepEqual(
      first.events.map((e) => e.value),
      ['p0', 'p1', 'q0'],
    );
    // Round 2: packed and objects in one transaction, with a duplicate in the packed entry.
    const r2 = [queue.publish(packEvents([ev('d0', 7), ev('d1', 7)]), 2), queue.publish([ev('o0')], 1)];
    assert.deepEqual(await Promise.all(r2), [{ duplicates: [1] }, {}]);
    const second = (seen[1] as CommitNotice).stored;
    assert.equal(second.packed, undefined, 'a batch that mixes both forms is made of objects');
    assert.deepEqual(
      second.events.map((e) => e.value),
      ['d0', 'o0'],
    );
    const page = await store.readSession({ session: 's', after: null, limit: 10 });
    assert.deepEqual(
      page.events.map((e) => `${e.id} ${e.value} ${e.producer ?? '-'}`),
      ['2000-0 p0 -', '2000-1 p1 -', '2000-2 q0 -', '2000-3 d0 p', '2000-5 o0 -'],
    );
    queue.close();
    await writer.drained();
  }));

test('a transaction of more rows than one INSERT statement takes, duplicates among them: each stored row keeps its id, value and place', () =>
  withStore(async (store) => {
    const queue = new MemoryQueue({ maxEvents: 1000, maxBytes: 1 << 20, lastId: null, clock: () => 3000 });
    const writer = new Writer(queue, store, { maxBatchEvents: 1000 });
    // Two sessions in runs of 5, five keys; producer p numbers them, and repeats an earlier seq at
    // the first row, at the last row of the first full statement, at the first of the second, and
    // in the rows stored one by one after the full statements.
    const n = 2 * INSERT_ROWS + 11;
    const repeats = new Set([3, INSERT_ROWS - 1, INSERT_ROWS, 2 * INSERT_ROWS + 4]);
    const events = Array.from({ length: n }, (_e, i) =>
      base(`s${Math.floor(i / 5) % 2}`, `v${i}`, { key: `k${i % 5}`, producer: 'p', pseq: repeats.has(i) ? 1 : i + 1 }),
    );
    const sent = queue.publish(events, n);
    writer.start();
    assert.deepEqual(await sent, { duplicates: [...repeats].sort((a, b) => a - b) });
    const stored = events.map((e, i) => ({ e, i })).filter(({ i }) => !repeats.has(i));
    for (const session of ['s0', 's1']) {
      const mine = stored.filter(({ e }) => e.session === session);
      const page = await store.readSession({ session, after: null, limit: 1000 });
      assert.deepEqual(
        page.events.map((e) => `${e.id} ${e.value} ${e.key}`),
        mine.map(({ e, i }) => `3000-${i} ${e.value} ${e.key}`),
      );
      // The latest event of each key is found by the rowid the transaction gave it.
      const summary = await store.sessionSummary(session);
      assert.equal(summary?.count, mine.length);
      for (let k = 0; k < 5; k++) {
        const last = mine.filter(({ e }) => e.key === `k${k}`).at(-1);
        assert.deepEqual({ id: summary?.latest[`k${k}`]?.id, value: summary?.latest[`k${k}`]?.value }, { id: `3000-${last?.i}`, value: last?.e.value });
      }
    }
    queue.close();
    await writer.drained();
  }));

test('the writer tells the store when its queue is pressed (at pressedDepth events waiting) and when it no longer is (below half of that)', () => {
  const told: { pressed: boolean; depth: number }[] = [];
  const queue = new MemoryQueue({ maxEvents: 100_000, maxBytes: 1 << 26, lastId: null, clock: () => 4000 });
  // The real store, told as before; the test only keeps a record of what it was told and when.
  class Recording extends SqliteStore {
    override queuePressed(pressed: boolean): void {
      told.push({ pressed, depth: queue.depth });
      super.queuePressed(pressed);
    }
  }
  return withStore(
    async (store) => {
      /** 5000 events in entries of 500, published before the writer starts (it takes them 500 at a time). */
      const publish5000 = (q: MemoryQueue, prefix: string) =>
        Array.from({ length: 10 }, (_x, b) =>
          q.publish(
            Array.from({ length: 500 }, (_y, i) => ev(`${prefix}${b * 500 + i}`)),
            500,
          ),
        );
      const writer = new Writer(queue, store, { maxBatchEvents: 500, pressedDepth: 2000 });
      const sent = publish5000(queue, 'v');
      writer.start();
      await Promise.all(sent);
      assert.deepEqual(
        told.map((t) => t.pressed),
        [true, false],
        'pressed once, released once: no flapping while the depth falls through the band between',
      );
      assert.ok((told[0] as { depth: number }).depth >= 2000, `pressed at a depth of ${told[0]?.depth}`);
      assert.ok((told[1] as { depth: number }).depth < 1000, `released at a depth of ${told[1]?.depth}`);
      queue.close();
      await writer.drained();
      // A writer without pressedDepth never tells.
      const second = new MemoryQueue({ maxEvents: 100_000, maxBytes: 1 << 26, lastId: await store.lastId(), clock: () => 4000 });
      const quiet = new Writer(second, store, { maxBatchEvents: 500 });
      const more = publish5000(second, 'w');
      quiet.start();
      await Promise.all(more);
      assert.equal(told.length, 2);
      second.close();
      await quiet.drained();
      assert.equal((await store.readSession({ session: 's', after: null, limit: 20_000 })).events.length, 10_000);
    },
    (dataDir) => new Recording({ dataDir, readerThreads: 1, synchronous: 'normal' }),
  );
});
