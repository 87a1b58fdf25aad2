/**
 * The packed batch form (columns.ts) carries every event across a thread boundary unchanged:
 * nulls, empty strings, NUL and astral characters, numbers and their absence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import fc from 'fast-check';
import { packEvents, unpackEvents, unpackToColumns } from '../src/batch/columns.ts';

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const eventArb: fc.Arbitrary<NormalizedEvent> = fc
  .record({
    session: text,
    key: text,
    value: fc.oneof(text, fc.constant('a\u0000b'), fc.constant('😀\ud83d\ude00')),
    vjson: fc.constantFrom(0 as const, 1 as const),
    ts: maybe(fc.integer({ min: 0, max: 2 ** 45 })),
    component: maybe(text),
    user: maybe(text),
    terminal: maybe(text),
    step: maybe(text),
    level: maybe(text),
    attrs: maybe(text),
    producer: maybe(text),
    pseq: maybe(fc.nat()),
  })
  .map((e) => ({ ...e })); // plain objects, as the receiver makes them (fast-check's have no prototype)

test('events survive pack → structured clone → unpack, as objects and as columns', () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
      const crossed = structuredClone(packEvents(events));
      assert.deepEqual(unpackEvents(crossed), events);
      const cols = unpackToColumns(crossed);
      assert.equal(cols.n, events.length);
      assert.deepEqual(
        cols.value,
        events.map((e) => e.value),
      );
      assert.deepEqual(
        cols.pseq,
        events.map((e) => e.pseq),
      );
    }),
    { numRuns: 300 },
  );
});

test('an empty batch packs to nothing', () => {
  const p = packEvents([]);
  assert.equal(p.n, 0);
  assert.equal(p.text, '');
  assert.deepEqual(unpackEvents(p), []);
});
