/**
 * The history pacer (tail/history-pacer.ts): turns start in the order they were asked for, never
 * more than the limit run at once (the pages in memory are bounded), and a failing turn frees
 * its place.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HistoryPacer } from '@logsrv/server';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('history pacer runs turns in FIFO order with at most the limit in flight', async () => {
  const pacer = new HistoryPacer(3);
  const started: number[] = [];
  const gates = Array.from({ length: 10 }, deferred);
  let running = 0;
  let most = 0;
  const turns = gates.map((g, i) =>
    pacer.turn(async (busy) => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await g.promise;
      busy();
      running--;
      return i;
    }),
  );
  // Let the pacer start all it may (a turn per turn of the event loop), then some more turns;
  // then release turns out of order.
  const turn = () => new Promise((r) => setImmediate(r));
  for (let i = 0; i < 1000 && started.length < 3; i++) await turn();
  for (let i = 0; i < 20; i++) await turn();
  assert.deepEqual(started, [0, 1, 2]);
  for (const i of [2, 0, 1, 5, 4, 3, 9, 8, 7, 6]) {
    (gates[i] as { resolve: () => void }).resolve();
    await turn();
  }
  assert.deepEqual(await Promise.all(turns), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(most, 3);
});

test('history pacer: a turn that throws rejects its caller and frees its place', async () => {
  const pacer = new HistoryPacer(1);
  const failed = pacer.turn(async () => {
    throw new Error('read failed');
  });
  const next = pacer.turn(async () => 'ran');
  await assert.rejects(failed, /read failed/);
  assert.equal(await next, 'ran');
});
