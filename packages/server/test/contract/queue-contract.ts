/**
 * The Queue contract (queue/queue.ts), run unchanged against every engine: publish gives ids at
 * acceptance and resolves only once a writer has acknowledged; take hands whole entries in
 * acceptance order; ack settles publishers and announces the stored events on the commit feed;
 * the bound refuses at once; close drains. Engines that keep unacknowledged entries (Redis)
 * also hand an entry a writer took and never acknowledged to another taker.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareIds, LogsrvError } from '@logsrv/protocol';
import type { CommitFeed, CommitNotice, Queue } from '@logsrv/server';
import { ev } from './events.ts';

export interface QueueUnderTest {
  queue: Queue;
  feed: CommitFeed;
  /** Another handle on the same queue (another process's view: a writer, or a receiver that only publishes), for engines that have one. */
  other?: (consume: boolean) => Promise<Queue & { close(): void; dispose?(): Promise<void> }>;
  /** Ends this handle as a killed process would: nothing acknowledged, nothing released. */
  crash?: () => void;
  dispose(): Promise<void>;
}

export interface QueueCaps {
  /** An entry taken and never acknowledged is taken again later (by another writer). */
  redelivers: boolean;
}

type Open = (bound: { maxEvents: number; maxBytes: number }, clock: () => number) => Promise<QueueUnderTest | null>;

const roomy = { maxEvents: 100_000, maxBytes: 64 << 20 };

async function settled<T>(p: Promise<T>, ms: number): Promise<'pending' | { value: T } | { error: unknown }> {
  return Promise.race([
    p.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms)),
  ]);
}

export function queueContract(engine: string, caps: QueueCaps, open: Open): void {
  describe(`Queue contract: ${engine}`, () => {
    async function with_(
      t: { skip(msg: string): void },
      bound: { maxEvents: number; maxBytes: number },
      clock: () => number,
      fn: (q: QueueUnderTest) => Promise<void>,
    ) {
      const q = await open(bound, clock);
      if (!q) {
        t.skip(`${engine} is not available here`);
        return;
      }
      try {
        await fn(q);
      } finally {
        q.queue.close();
        await q.dispose();
      }
    }

    test('publish resolves only after the taken batch is acknowledged; the feed carries the events with their ids', async (t) => {
      await with_(t, roomy, Date.now, async ({ queue, feed }) => {
        const notices: CommitNotice[] = [];
        const unsubscribe = feed.subscribe((n) => notices.push(n));
        const p = queue.publish([ev('q-a', 'one'), ev('q-a', 'two')], 20);
        const b = await queue.take(100);
        assert.ok(b);
        assert.deepEqual(
          b.events.map((e) => e.value),
          ['one', 'two'],
        );
        assert.ok(
          compareIds({ ms: b.ms[0] as number, seq: b.seq[0] as number }, { ms: b.ms[1] as number, seq: b.seq[1] as number }) < 0,
          'ids increase along the entry',
        );
        assert.equal(await settled(p, 50), 'pending', 'not acknowledged yet');
        await queue.ack(b, undefined);
        assert.deepEqual(await p, {});
        for (let i = 0; i < 50 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        unsubscribe();
        const stored = notices.flatMap((n) => Array.from(n.stored.events, (e, i) => `${e.value}@${n.stored.ms[i]}-${n.stored.seq[i]}`));
        assert.deepEqual(stored, [`one@${b.ms[0]}-${b.seq[0]}`, `two@${b.ms[1]}-${b.seq[1]}`]);
      });
    });

    test('ids follow acceptance order, also when the clock goes back', async (t) => {
      let now = Date.UTC(2026, 10, 21, 12);
      await with_(
        t,
        roomy,
        () => now,
        async ({ queue }) => {
          const ps = [];
          for (let i = 0; i < 5; i++) {
            ps.push(queue.publish([ev('q-order', `v${i}`), ev(`q-other-${i}`, `w${i}`)], 20));
            now -= 1000; // the clock steps back between publishes
          }
          const ids: { ms: number; seq: number; value: string }[] = [];
          while (ids.length < 10) {
            const b = await queue.take(3);
            assert.ok(b);
            b.events.forEach((e, i) => {
              ids.push({ ms: b.ms[i] as number, seq: b.seq[i] as number, value: e.value });
            });
            await queue.ack(b, undefined);
          }
          await Promise.all(ps);
          const session = ids.filter((x) => x.value.startsWith('v'));
          assert.deepEqual(
            session.map((x) => x.value),
            ['v0', 'v1', 'v2', 'v3', 'v4'],
          );
          for (let i = 1; i < session.length; i++) {
            assert.ok(
              compareIds(session[i - 1] as { ms: number; seq: number }, session[i] as { ms: number; seq: number }) < 0,
              'strictly increasing within the session',
            );
          }
        },
      );
    });

    test('take returns whole entries up to maxEvents, at least one', async (t) => {
      await with_(t, roomy, Date.now, async ({ queue }) => {
        const ps = [queue.publish([ev('q-w', 'a'), ev('q-w', 'b'), ev('q-w', 'c')], 3), queue.publish([ev('q-w', 'd'), ev('q-w', 'e')], 2)];
        const first = await queue.take(2);
        assert.ok(first);
        assert.deepEqual(
          first.entries.map((e) => e.count),
          [3],
          'an entry larger than maxEvents comes whole',
        );
        const second = await queue.take(100);
        assert.ok(second);
        assert.deepEqual(
          second.events.map((e) => e.value),
          ['d', 'e'],
        );
        await queue.ack(first, undefined);
        await queue.ack(second, undefined);
        await Promise.all(ps);
      });
    });

    test('skipped events come back to their publisher as duplicates, indexed within its entry', async (t) => {
      await with_(t, roomy, Date.now, async ({ queue }) => {
        const a = queue.publish([ev('q-d', 'a0'), ev('q-d', 'a1')], 2);
        const b = queue.publish([ev('q-d', 'b0'), ev('q-d', 'b1')], 2);
        const batches = [];
        let n = 0;
        while (n < 4) {
          const x = await queue.take(100);
          assert.ok(x);
          batches.push(x);
          n += x.events.length;
        }
        // Skip a1 and b0: batch indices differ per engine's batching, so map by value.
        for (const x of batches) {
          const skip = x.events.flatMap((e, i) => (e.value === 'a1' || e.value === 'b0' ? [i] : []));
          await queue.ack(x, skip.length ? skip : undefined);
        }
        assert.deepEqual(await a, { duplicates: [1] });
        assert.deepEqual(await b, { duplicates: [0] });
      });
    });

    test('over its bound, publish fails at once with LOGSRV_ERR_QUEUE_FULL; an empty queue admits one oversize batch', async (t) => {
      await with_(t, { maxEvents: 3, maxBytes: 1 << 20 }, Date.now, async ({ queue }) => {
        const big = queue.publish([ev('q-b', '1'), ev('q-b', '2'), ev('q-b', '3'), ev('q-b', '4')], 4);
        await assert.rejects(queue.publish([ev('q-b', '5')], 1), (err: unknown) => err instanceof LogsrvError && err.code === 'LOGSRV_ERR_QUEUE_FULL');
        const b = await queue.take(100);
        assert.ok(b);
        await queue.ack(b, undefined);
        await big;
        // Room again once the backlog is acknowledged.
        const after = queue.publish([ev('q-b', '6')], 1);
        const c = await queue.take(100);
        assert.ok(c);
        await queue.ack(c, undefined);
        await after;
      });
    });

    test('close: what was published is still taken, then take returns null and publish is refused', async (t) => {
      await with_(t, roomy, Date.now, async ({ queue }) => {
        const p = queue.publish([ev('q-c', 'last')], 4);
        queue.close();
        await assert.rejects(queue.publish([ev('q-c', 'late')], 4), (err: unknown) => err instanceof LogsrvError && err.code === 'LOGSRV_ERR_SHUTTING_DOWN');
        const b = await queue.take(100);
        assert.ok(b);
        assert.deepEqual(
          b.events.map((e) => e.value),
          ['last'],
        );
        await queue.ack(b, undefined);
        await p;
        assert.equal(await queue.take(100), null);
      });
    });

    if (caps.redelivers) {
      test('an entry a writer took and never acknowledged (it died) is taken by another writer, with the same ids; its publisher is answered', async (t) => {
        await with_(t, roomy, Date.now, async ({ queue, other, crash }) => {
          assert.ok(other && crash, 'a redelivering engine offers more handles and a crash');
          const receiver = await other(false);
          const handles = [receiver];
          try {
            const p = receiver.publish([ev('q-r', 'x'), ev('q-r', 'y')], 2);
            const lost = await queue.take(100);
            assert.ok(lost);
            crash(); // this writer dies here: no ack
            const second = await other(true);
            handles.push(second);
            const again = await second.take(100);
            assert.ok(again);
            assert.deepEqual(
              again.events.map((e) => e.value),
              ['x', 'y'],
            );
            assert.deepEqual(Array.from(again.ms), Array.from(lost.ms));
            assert.deepEqual(Array.from(again.seq), Array.from(lost.seq));
            assert.equal(await settled(p, 100), 'pending', 'not acknowledged by anyone yet');
            await second.ack(again, undefined);
            assert.deepEqual(await p, {});
          } finally {
            for (const h of handles) {
              h.close();
              await h.dispose?.();
            }
          }
        });
      });
    } else {
      test('a batch the store refused fails its publishers (nothing was stored)', async (t) => {
        await with_(t, roomy, Date.now, async ({ queue }) => {
          const p = queue.publish([ev('q-f', 'x')], 1);
          const b = await queue.take(100);
          assert.ok(b);
          await queue.fail(b, new Error('disk full'));
          await assert.rejects(p, /disk full/);
        });
      });
    }
  });
}
