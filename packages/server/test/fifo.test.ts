/** Fifo (queue/fifo.ts): order kept across its compactions, emptiness, peek without removal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fifo } from '../src/queue/fifo.ts';

test('fifo: items come out in the order they went in, across compactions and refills', () => {
  const f = new Fifo<number>();
  assert.equal(f.shift(), undefined);
  let next = 0;
  let expect = 0;
  // Interleaved pushes and shifts keep a backlog of ~1,000-3,000 items, so the array is compacted many times.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 3000; i++) f.push(next++);
    for (let i = 0; i < 2900; i++) assert.equal(f.shift(), expect++);
    assert.equal(f.size, next - expect);
    assert.equal(f.peek(), expect);
  }
  while (f.size > 0) assert.equal(f.shift(), expect++);
  assert.equal(expect, next);
  assert.equal(f.peek(), undefined);
  f.push(7);
  assert.equal(f.peek(), 7);
  assert.equal(f.size, 1);
});
