/** Ids made from random bytes: the right length, hex only, and different every time. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomHex } from '../src/random-hex.ts';

test('randomHex gives 2 hex digits per byte, a new value each call', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const h = randomHex(6);
    assert.match(h, /^[0-9a-f]{12}$/);
    seen.add(h);
  }
  assert.equal(seen.size, 200);
  assert.match(randomHex(3), /^[0-9a-f]{6}$/);
});
