/**
 * The live hub's delivery timing for a small hub: a commit's frames are written to the tail's
 * socket inside the commit feed's listener while flushes are cheap, and on the same turn of the
 * event loop (before any timer) after a costly one (a big batch), which used to push the next
 * commits onto a paced timer. And a large hub's pacing: the wait after a costly flush is short
 * while the thread has nothing else to do, and twice the flush's cost while other work keeps the
 * thread busy.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import { LocalCommitFeed } from '../src/queue/commit-feed.ts';
import { TailHub } from '../src/tail/hub.ts';
import { ev } from './contract/events.ts';

/** Keeps the thread busy for `ms` (a socket write's cost, or other work). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Just what TailClient uses of a live, unchunked SSE response; the socket keeps what is written.
 * `onWrite` runs at each socket write (to give it a cost, or to time it).
 */
function fakeResponse(onWrite?: (b: Buffer | string) => void): { res: ServerResponse; written: () => string } {
  const chunks: Buffer[] = [];
  const socket = Object.assign(new EventEmitter(), {
    write(b: Buffer | string) {
      onWrite?.(b);
      chunks.push(Buffer.from(b));
      return true;
    },
  });
  const res = Object.assign(new EventEmitter(), {
    headersSent: true,
    useChunkedEncodingByDefault: false,
    socket,
    writableLength: 0,
    closed: false,
    write(b: Buffer | string) {
      chunks.push(Buffer.from(b));
      return true;
    },
    end(b?: Buffer | string) {
      if (b !== undefined) chunks.push(Buffer.from(b));
      res.closed = true;
      res.emit('close');
    },
    destroy() {
      res.end();
    },
  });
  return { res: res as unknown as ServerResponse, written: () => Buffer.concat(chunks).toString('utf8') };
}

function commit(feed: LocalCommitFeed, session: string, from: number, n: number): void {
  const events: NormalizedEvent[] = [];
  const ms = new Float64Array(n);
  const seq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    events.push(ev(session, `line ${from + i} ${'x'.repeat(200)}`));
    ms[i] = 1_780_000_000_000;
    seq[i] = from + i;
  }
  feed.emit({ entries: [], stored: { events, ms, seq }, shard: 0 });
}

test('a hub with few clients writes a commit to the socket at once, and on the same turn after a costly flush', async () => {
  const feed = new LocalCommitFeed();
  const hub = new TailHub({ maxClients: 10, clientBufferBytes: 64 * 1024 * 1024, heartbeatMs: 3_600_000, lastId: null, feed });
  try {
    const { res, written } = fakeResponse();
    const { client } = hub.attach({ session: 's' }, res, 'now');
    client.goLive(null);
    // 20,000 events of ~250 bytes: a flush of many milliseconds, far over any pacing threshold.
    commit(feed, 's', 0, 5000);
    assert.equal(written().split('event: event\n').length - 1, 5000, 'the big commit is written at once');
    for (let k = 0; k < 5; k++) {
      const before = written().length;
      commit(feed, 's', 5000 + k, 1);
      await new Promise((r) => setImmediate(r));
      const added = written().slice(before);
      assert.match(added, new RegExp(`^id: 1780000000000-${5000 + k}\nevent: event\ndata: .*"value":"line ${5000 + k} x+"`), `commit ${k} after the big one`);
    }
    // Other sessions' commits write nothing to this tail.
    const before = written().length;
    commit(feed, 'other', 9000, 3);
    assert.equal(written().length, before);
  } finally {
    await hub.close();
  }
});

/**
 * A hub of 400 clients (above the unpaced size) whose socket writes cost 0.1 ms each: a flush
 * costs ~40 ms. Commit 0 warms up; then, after the thread either idled or worked for 100 ms,
 * commit 1 is flushed, and commit 2, emitted the moment commit 1 reached every socket, waits for
 * the pacing. Returns commit 1's flush time and the wait between the two flushes (last write of
 * one to first write of the next).
 */
async function pacedGap(otherWorkMs: number): Promise<{ cost: number; gap: number; share: number }> {
  const feed = new LocalCommitFeed();
  const hub = new TailHub({ maxClients: 1000, clientBufferBytes: 64 * 1024 * 1024, heartbeatMs: 3_600_000, lastId: null, feed });
  const times = new Map<number, number[]>(); // commit → time of each socket write
  const clients = 400;
  try {
    for (let i = 0; i < clients; i++) {
      const { res } = fakeResponse((b) => {
        spin(0.1);
        const k = Number(/"value":"line (\d+) /.exec(b.toString())?.[1]);
        const list = times.get(k) ?? [];
        list.push(performance.now());
        times.set(k, list);
      });
      hub.attach({ session: 's' }, res, 'now').client.goLive(null);
    }
    // Polled by timer, so the thread idles meanwhile (a setImmediate loop would be other work).
    const reached = async (k: number) => {
      while ((times.get(k)?.length ?? 0) < clients) await new Promise((r) => setTimeout(r, 1));
    };
    commit(feed, 's', 0, 1);
    await reached(0);
    if (otherWorkMs > 0) spin(otherWorkMs);
    else await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 100)); // past the warm-up flush's own wait
    commit(feed, 's', 1, 1);
    await reached(1);
    const share = hub.fanoutShare;
    commit(feed, 's', 2, 1);
    await reached(2);
    const one = times.get(1) as number[];
    const two = times.get(2) as number[];
    return { cost: (one.at(-1) as number) - (one[0] as number), gap: (two[0] as number) - (one.at(-1) as number), share };
  } finally {
    await hub.close();
  }
}

test('a large hub flushes again soon after a costly flush while the thread has nothing else to do', async () => {
  const { cost, gap, share } = await pacedGap(0);
  // Fan-out may take 85 % of an idle thread: a wait of ~0.18 × the flush's cost (the pacing
  // of a thread with other work waits 2×).
  assert.ok(cost >= 35, `the flush took ${cost} ms`);
  assert.ok(share >= 0.5, `fan-out's share of an idle thread: ${share}`);
  assert.ok(gap < 1.5 * cost, `waited ${gap.toFixed(1)} ms after a flush of ${cost.toFixed(1)} ms on an idle thread`);
});

test('a large hub leaves two thirds of the thread to other work that keeps it busy', async () => {
  // 300 ms of other work before commit 1, in a cycle of ~440 ms (more if the machine is loaded
  // and the flush takes longer): well over the 30 % at which the hub's share falls to a third.
  const { cost, gap, share } = await pacedGap(300);
  assert.ok(cost >= 35, `the flush took ${cost} ms`);
  assert.ok(Math.abs(share - 1 / 3) < 1e-9, `fan-out's share of a busy thread: ${share}`);
  // The wait is 2× the flush's cost; a loaded machine only makes the timer later.
  assert.ok(gap >= 1.5 * cost, `waited ${gap.toFixed(1)} ms after a flush of ${cost.toFixed(1)} ms on a busy thread`);
});
