/**
 * The quantile sketch of the report rollups (store/rollups.ts): every quantile within the stated
 * relative error of the exact value of its rank, over wide and signed ranges; merging (as buckets
 * or as the binary form SQLite stores) equals sketching all the values at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SketchBuckets } from '@logsrv/server';
import { bucketOf, decodeSketchInto, encodeSketch, mergeSketchBlobs, numericValue, quantiles, SKETCH_ALPHA } from '@logsrv/server';
import { rng } from './helpers.ts';

function sketch(xs: number[]): SketchBuckets {
  const b: SketchBuckets = {};
  for (const x of xs) {
    const k = bucketOf(x);
    b[k] = (b[k] ?? 0) + 1;
  }
  return b;
}

const QS = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

test('quantiles are within the stated relative error of the exact value of rank ceil(q·n)', () => {
  const r = rng(99);
  const sets: [string, number[]][] = [
    ['log-uniform 1e-6..1e9', Array.from({ length: 20_000 }, () => 10 ** (r() * 15 - 6))],
    ['signed, with zeros', Array.from({ length: 5_000 }, (_, i) => (i % 17 === 0 ? 0 : (r() - 0.4) * 1000))],
    ['integers 0..9', Array.from({ length: 1_000 }, () => Math.floor(r() * 10))],
    ['one value', [42.5]],
  ];
  for (const [name, xs] of sets) {
    const sorted = [...xs].sort((a, b) => a - b);
    const got = quantiles(sketch(xs), QS, sorted[0] as number, sorted[sorted.length - 1] as number);
    QS.forEach((q, i) => {
      const exact = sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
      const g = got[i] as number;
      assert.ok(Math.abs(g - exact) <= SKETCH_ALPHA * Math.abs(exact) + 1e-12, `${name} q=${q}: ${g} vs exact ${exact}`);
    });
  }
});

test('merging sketches, as buckets or in the stored binary form, equals one sketch of all values', () => {
  const r = rng(7);
  const parts = Array.from({ length: 6 }, (_, p) => Array.from({ length: 300 }, () => (r() - 0.2) * 10 ** (p % 4)));
  const whole = sketch(parts.flat());
  let blob = encodeSketch(sketch(parts[0] as number[]));
  for (const p of parts.slice(1)) blob = mergeSketchBlobs(blob, encodeSketch(sketch(p)));
  assert.deepEqual(decodeSketchInto(blob, {}), whole);
  // An unaligned blob (SQLite hands them out at any offset) reads the same.
  const shifted = Buffer.alloc(blob.length + 1);
  blob.copy(shifted, 1);
  assert.deepEqual(decodeSketchInto(shifted.subarray(1), {}), whole);
  assert.deepEqual(decodeSketchInto(encodeSketch({}), {}), {});
});

test('numeric values: JSON numbers and objects with a numeric value; nothing else', () => {
  assert.equal(numericValue('12.5', 1), 12.5);
  assert.equal(numericValue('-3e2', 1), -300);
  assert.equal(numericValue('{"value":7,"unit":"ms"}', 1), 7);
  assert.equal(numericValue('12.5', 0), undefined, 'a string of digits is a string');
  assert.equal(numericValue('{"value":"7"}', 1), undefined);
  assert.equal(numericValue('{"v":7}', 1), undefined);
  assert.equal(numericValue('[1]', 1), undefined);
  assert.equal(numericValue('true', 1), undefined);
});
