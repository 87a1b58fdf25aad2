/**
 * The packed batch form (columns.ts) carries every event across a thread boundary unchanged:
 * nulls, empty strings, NUL and astral characters, numbers and their absence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import fc from 'fast-check';
import { concatPacked, MAX_CHUNK_CHARS, packEvents, unpackEvents, unpackToColumns } from '../src/batch/columns.ts';
import { packedBatch } from '../src/batch/identified.ts';
import { ev } from './contract/events.ts';

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

/** Fields drawn from a few values, so that they repeat, with nulls between the repeats. */
const few = fc.constantFrom('', 'a', 'b', 'ab', 'é');
const repeatingArb: fc.Arbitrary<NormalizedEvent> = fc
  .record({
    session: few,
    key: few,
    value: few,
    vjson: fc.constant(0 as const),
    ts: fc.constant(null),
    component: maybe(few),
    user: maybe(few),
    terminal: maybe(few),
    step: maybe(few),
    level: maybe(few),
    attrs: maybe(few),
    producer: maybe(few),
    pseq: fc.constant(null),
  })
  .map((e) => ({ ...e }));

test('fields that repeat an earlier event of the batch, with nulls between, unpack to their text, alone and joined', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.array(repeatingArb, { maxLength: 12 }), fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 4 }), (parts) => {
      for (const [events, maxChunkChars] of parts) assert.deepEqual(unpackEvents(structuredClone(packEvents(events, maxChunkChars))), events);
      const joined = concatPacked(parts.map(([events, maxChunkChars]) => structuredClone(packEvents(events, maxChunkChars))));
      assert.deepEqual(
        unpackEvents(joined),
        parts.flatMap(([events]) => events),
      );
    }),
    { numRuns: 500 },
  );
});

test("a session's run of events sends its repeated fields' text once; values and attrs every time", () => {
  const events: NormalizedEvent[] = Array.from({ length: 100 }, (_, i) => ({
    ...ev('build-42', `line ${i}`),
    key: i < 50 ? 'stdout' : 'stderr',
    component: 'runner',
    level: i === 50 ? null : 'info',
    attrs: '{}',
  }));
  const packed = packEvents(events);
  const sent = packed.text.join('').length;
  const values = events.reduce((n, e) => n + e.value.length + 2, 0); // each value and its attrs '{}'
  assert.equal(sent, values + 'build-42stdoutrunnerinfostderr'.length);
  assert.deepEqual(unpackEvents(structuredClone(packed)), events);
});

test('events survive chunk boundaries anywhere: between fields, after empty fields, fields longer than a chunk', () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 30 }), fc.integer({ min: 1, max: 60 }), (events, maxChunkChars) => {
      const packed = packEvents(events, maxChunkChars);
      for (const chunk of packed.text) assert.ok(chunk.length > 0);
      assert.deepEqual(unpackEvents(structuredClone(packed)), events);
    }),
    { numRuns: 500 },
  );
});

test('a large batch crosses as chunks under V8 large-object size, each field whole', () => {
  const events: NormalizedEvent[] = Array.from({ length: 3000 }, (_, i) => ({
    session: `s${i % 7}`,
    key: 'k',
    value: `${'é'.repeat(i % 2)}${'v'.repeat(100 + (i % 50))}`,
    vjson: 0,
    ts: null,
    component: null,
    user: null,
    terminal: null,
    step: null,
    level: 'info',
    attrs: i % 3 === 0 ? `{"i":${i}}` : null,
    producer: null,
    pseq: null,
  }));
  const packed = packEvents(events);
  assert.ok(packed.text.length > 1, `${packed.text.length} chunks`);
  for (const chunk of packed.text) assert.ok(chunk.length <= MAX_CHUNK_CHARS, `chunk of ${chunk.length} chars`);
  assert.deepEqual(unpackEvents(structuredClone(packed)), events);
});

test('an empty batch packs to nothing', () => {
  const p = packEvents([]);
  assert.equal(p.n, 0);
  assert.deepEqual(p.text, []);
  assert.deepEqual(unpackEvents(p), []);
});

test('packed batches joined unpack to their events one after the other, whatever chunks each was cut into', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.array(eventArb, { maxLength: 8 }), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 5 }), (parts) => {
      const joined = concatPacked(parts.map(([events, maxChunkChars]) => structuredClone(packEvents(events, maxChunkChars))));
      const all = parts.flatMap(([events]) => events);
      assert.equal(joined.n, all.length);
      assert.deepEqual(unpackEvents(structuredClone(joined)), all);
    }),
    { numRuns: 500 },
  );
});

test('a packed batch makes its event objects once, on first read', () => {
  const events = [ev('s', 'a'), ev('s', 'b')];
  const b = packedBatch(packEvents(events), new Float64Array([1, 1]), new Float64Array([0, 1]));
  const first = b.events;
  assert.deepEqual(first, events);
  assert.equal(b.events, first, 'the same array on every read');
});
