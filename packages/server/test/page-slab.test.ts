/**
 * The reader threads' page slab (store/sqlite/page-slab.ts): a page goes into a free slot whole
 * and comes out as the same bytes; a taken slot is not given again until released; a page larger
 * than a slot, or with every slot taken, is refused (the reader then moves the parts instead).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PageSlab, SLAB_SLOT_BYTES, SLAB_SLOTS } from '../src/store/sqlite/page-slab.ts';

test('page slab: parts in, the same bytes out, slots lent until released', () => {
  const reader = PageSlab.create();
  // The main thread's side sees the same memory through its own object.
  const main = new PageSlab(reader.buffer);
  const parts = [Buffer.from('{"events":['), Buffer.from('{"id":"1-0"}'), Buffer.from(','), Buffer.from('{"id":"1-1"}'), Buffer.from('],"next":null}')];
  const length = parts.reduce((n, p) => n + p.length, 0);
  const taken: number[] = [];
  for (let i = 0; i < SLAB_SLOTS; i++) {
    const slot = reader.put(parts);
    assert.ok(slot >= 0 && !taken.includes(slot), `slot ${slot}`);
    taken.push(slot);
    assert.equal(main.view(slot, length).toString(), Buffer.concat(parts).toString());
  }
  assert.equal(reader.put(parts), -1, 'every slot lent');
  main.release(taken[0] as number);
  assert.equal(reader.put([Buffer.from('x')]), taken[0], 'a released slot is given again');
  assert.equal(main.view(taken[0] as number, 1).toString(), 'x');
  main.release(taken[0] as number);
  assert.equal(reader.put([Buffer.alloc(SLAB_SLOT_BYTES + 1)]), -1, 'larger than a slot');
  assert.equal(reader.put([Buffer.alloc(SLAB_SLOT_BYTES)]), taken[0], 'exactly a slot fits');
});

test('page slab: a page written into a slot part by part, ASCII strings as bytes, refused past the slot', () => {
  const reader = PageSlab.create();
  const main = new PageSlab(reader.buffer);
  const w = reader.writer();
  assert.ok(w);
  assert.equal(w.write(Buffer.from('{"events":[')), true);
  assert.equal(w.write('{"id":"1-0","v":"a \\" b"}'), true);
  assert.equal(w.write(Buffer.from(']}')), true);
  assert.equal(main.view(w.slot, w.length).toString(), '{"events":[{"id":"1-0","v":"a \\" b"}]}');
  // Not ASCII: refused with an error, nothing written.
  const before = w.length;
  assert.throws(() => w.write('ünï'), /not ASCII/);
  assert.equal(w.length, before);
  // What does not fit is refused, nothing written; what fits exactly is taken.
  assert.equal(w.write('x'.repeat(SLAB_SLOT_BYTES - w.length + 1)), false);
  assert.equal(w.write(Buffer.alloc(SLAB_SLOT_BYTES - w.length + 1)), false);
  assert.equal(w.write('x'.repeat(SLAB_SLOT_BYTES - w.length)), true);
  assert.equal(w.length, SLAB_SLOT_BYTES);
  // The slot stays taken until aborted (or released by the main thread).
  const others: number[] = [];
  for (let o = reader.writer(); o; o = reader.writer()) others.push(o.slot);
  assert.equal(others.length, SLAB_SLOTS - 1);
  assert.ok(!others.includes(w.slot));
  w.abort();
  assert.equal(reader.writer()?.slot, w.slot, 'an aborted slot is free again');
});

test('page slab: put refuses a string part that is not ASCII and leaves the slot free', () => {
  const reader = PageSlab.create();
  assert.throws(() => reader.put([Buffer.from('['), 'ö']), /not ASCII/);
  const slots: number[] = [];
  for (let w = reader.writer(); w; w = reader.writer()) slots.push(w.slot);
  assert.equal(slots.length, SLAB_SLOTS);
});
