/**
 * The reader thread's fast paths give exactly what the plain ones give, for any row the writer can
 * store (every optional field present or absent, odd strings, object values): rows read as arrays
 * (arrayToEvent) make the same events as rows read as objects (rowToEvent), and pages rendered in
 * the reader (store/row-text.ts) are byte-for-byte query/render.ts's; and the live tail's frame
 * text (committedEventJson) is byte-for-byte the event read back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { renderNdjson, renderText } from '../src/query/render.ts';
import { renderPage } from '../src/store/row-text.ts';
import type { EventRowLike } from '../src/store/rows.ts';
import { arrayToEvent, committedEventJson, committedToEvent, rowToEvent } from '../src/store/rows.ts';
import { SELECT_COLUMNS } from '../src/store/sqlite/schema.ts';

const text = fc.string({ unit: 'binary', maxLength: 40 });
const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

const row: fc.Arbitrary<EventRowLike> = fc
  .record({
    ms: fc.integer({ min: 0, max: 4_102_444_800_000 }),
    seq: fc.nat(1_000_000),
    session: text,
    key: text,
    value: fc.oneof(
      text.map((v) => ({ value: v, vjson: 0 })),
      fc.oneof(json, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.integer()).map((v) => ({ value: JSON.stringify(v), vjson: 1 })),
    ),
    ts: maybe(fc.integer({ min: 0, max: 4_102_444_800_000 })),
    component: maybe(text),
    user: maybe(text),
    terminal: maybe(text),
    step: maybe(text),
    level: maybe(text),
    attrs: maybe(json.map((v) => JSON.stringify(v))),
    producer: maybe(text),
    pseq: maybe(fc.nat()),
  })
  .map(({ value, ...r }) => ({ ...r, value: value.value, vjson: value.vjson }));

test('arrayToEvent(row in SELECT_COLUMNS order) is rowToEvent(row)', () => {
  const columns = SELECT_COLUMNS.split(', ') as (keyof EventRowLike)[];
  fc.assert(
    fc.property(row, (r) => {
      // Same fields in the same order: the JSON text is what clients see.
      assert.equal(JSON.stringify(arrayToEvent(columns.map((c) => r[c]))), JSON.stringify(rowToEvent(r)));
    }),
    { numRuns: 5000, seed: 5 },
  );
});

test('rendered pages equal the event renderers for json, ndjson and text', () => {
  fc.assert(
    fc.property(fc.array(row, { maxLength: 8 }), fc.option(fc.constant('5-1'), { nil: null }), (rows, next) => {
      const events = rows.map(rowToEvent);
      assert.equal(renderPage(events, next, 'json').body, JSON.stringify({ events, next }));
      assert.equal(renderPage(events, next, 'ndjson').body, renderNdjson(events));
      assert.equal(renderPage(events, next, 'text').body, renderText(events));
      assert.equal(renderPage(events, next, 'json').count, rows.length);
    }),
    { numRuns: 1000, seed: 6 },
  );
});

test('committedEventJson(event, ms, seq) is JSON.stringify(committedToEvent(event, ms, seq)), byte for byte', () => {
  // Rows of one batch share their ms (the text builder caches the last ms's ISO text), so runs of
  // rows with repeated and changing ms are checked, and ts equal to ms.
  fc.assert(
    fc.property(fc.array(row, { minLength: 1, maxLength: 6 }), fc.boolean(), (rows, sameMs) => {
      for (const r of rows) {
        const ms = sameMs ? (rows[0] as EventRowLike).ms : r.ms;
        const { ms: _ms, seq, ...rest } = r;
        const e = { ...rest, vjson: r.vjson as 0 | 1, ts: r.ts !== null && r.pseq !== null && r.pseq % 2 === 0 ? ms : r.ts };
        assert.equal(committedEventJson(e, ms, seq), JSON.stringify(committedToEvent(e, ms, seq)));
      }
    }),
    { numRuns: 1000, seed: 7 },
  );
});
