/**
 * The writer's producer marks in memory (producer-marks.ts): most recently used first, bounded,
 * and keyed by copies of the producer ids, not by the slices of batch text the writer is given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { packEvents, unpackToColumns } from '../src/batch/columns.ts';
import { ProducerMarks } from '../src/store/sqlite/producer-marks.ts';
import { ev } from './contract/events.ts';
import { liveHeapBytes } from './live-heap.ts';

test('a mark moves up; past the limit the least recently used producer is forgotten', () => {
  const m = new ProducerMarks(3);
  m.remember('a', 1);
  m.remember('b', 1);
  m.remember('c', 1);
  m.remember('a', 7); // now the most recent
  m.remember('d', 1); // pushes out b, the least recent
  assert.equal(m.size, 3);
  assert.equal(m.get('a'), 7);
  assert.equal(m.get('b'), undefined);
  assert.equal(m.get('c'), 1);
  assert.equal(m.get('d'), 1);
});

test("marks keep no batch's text alive: 400 producers from batches of ~24 KB each hold far less than the 9.6 MB of text", () => {
  const m = new ProducerMarks();
  const batches = 400;
  const before = liveHeapBytes();
  for (let i = 0; i < batches; i++) {
    // The producer id as the writer thread gets it: a slice of the batch's packed text, which
    // here is one chunk of ~24,000 characters (the event's value fills the rest).
    const c = unpackToColumns(packEvents([ev('build-session', 'x'.repeat(24_000) + i, { producer: `agent-${i}-7f3a9c2e`, pseq: 1 })]));
    m.remember(c.producer[0] as string, 1);
  }
  const grown = liveHeapBytes() - before;
  assert.equal(m.size, batches);
  assert.equal(m.get('agent-399-7f3a9c2e'), 1);
  // 400 ids and their Map entries are tens of KB; one chunk kept per id would be ~9.6 MB.
  assert.ok(grown < 2_000_000, `the marks hold ${grown} bytes of heap`);
});
