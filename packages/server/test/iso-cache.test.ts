/**
 * IsoCache (store/sqlite/render-json.ts) writes a time as its second's text and its milliseconds:
 * the same bytes as JSON.stringify of Date#toISOString for every time, in any order (the cache
 * keeps the last second), and the same error for a time out of Date's range.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { IsoCache } from '../src/store/sqlite/render-json.ts';

const MAX = 8.64e15; // Date's range: ±MAX ms
const quoted = (t: number) => JSON.stringify(new Date(t).toISOString());

test('IsoCache: toISOString bytes at the edges', () => {
  const edges = [0, -0, 1, -1, 999, 1000, 1001, -999, -1000, -1001, 9, 10, 99, 100, MAX, -MAX, MAX - 1, -MAX + 1, -MAX + 999, -MAX + 1000];
  edges.push(Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), Date.UTC(-1, 0, 1), Date.UTC(10000, 0, 1) - 1, Date.UTC(10000, 0, 1));
  edges.push(1.5, -1.5, 999.9, 1e12 + 0.25); // not integers: toISOString truncates
  for (const order of [edges, [...edges].reverse()]) {
    const c = new IsoCache();
    for (const t of order) {
      assert.equal(c.ofTs(t), quoted(t), `ofTs(${t})`);
      assert.equal(c.of(t), quoted(t), `of(${t})`);
    }
  }
});

test('IsoCache: out of range throws as toISOString does', () => {
  for (const t of [MAX + 1, -MAX - 1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new Date(t).toISOString(), RangeError);
    assert.throws(() => new IsoCache().ofTs(t), RangeError, `ofTs(${t})`);
  }
});

test('IsoCache: any integer times, in any order, near each other or not', () => {
  const time = fc.oneof(fc.integer({ min: -MAX, max: MAX }), fc.integer({ min: 1_700_000_000_000, max: 1_700_000_010_000 }));
  fc.assert(
    fc.property(fc.array(time, { maxLength: 50 }), (ts) => {
      const c = new IsoCache();
      for (const t of ts) {
        assert.equal(c.ofTs(t), quoted(t));
        assert.equal(c.of(t), quoted(t));
      }
    }),
    { numRuns: 500 },
  );
});
