import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compareIds,
  dayOf,
  dayStartMs,
  formatId,
  MAX_ATTRS,
  MAX_DEPTH,
  MAX_FIELD_CHARS,
  normalizeEvent,
  parseId,
  parseTs,
  plainlyValid,
  validateBySchema,
  validateEvent,
} from '@logsrv/protocol';

describe('event validation', () => {
  const cases: { name: string; input: unknown; reason?: string; message?: RegExp }[] = [
    { name: 'a minimal event is valid', input: { session: 's', key: 'stdout', value: 'x' } },
    {
      name: 'every field is accepted',
      input: {
        session: 's',
        key: 'k',
        value: { a: 1 },
        ts: 0,
        component: 'c',
        user: 'u',
        terminal: 't',
        step: 'st',
        level: 'info',
        attrs: { x: [1] },
        producer: 'p',
        seq: 3,
      },
    },
    { name: 'number and boolean values are valid', input: { session: 's', key: 'k', value: false } },
    { name: 'a session may be left to enrichment', input: { key: 'k', value: 1, user: 'u' } },
    { name: 'an array is not an event', input: [1], reason: 'not_object', message: /JSON object, got array/ },
    { name: 'null is not an event', input: null, reason: 'not_object', message: /got null/ },
    { name: 'a missing key is named', input: { session: 's', value: 1 }, reason: 'missing_field', message: /missing required field 'key'/ },
    { name: 'a missing value is named', input: { session: 's', key: 'k' }, reason: 'missing_field', message: /'value'/ },
    {
      name: 'a null value has the wrong type',
      input: { session: 's', key: 'k', value: null },
      reason: 'wrong_type',
      message: /'value' must be a string, number, boolean or object, got null/,
    },
    { name: 'an array value has the wrong type', input: { session: 's', key: 'k', value: [1] }, reason: 'wrong_type', message: /got array/ },
    {
      name: 'a numeric session has the wrong type',
      input: { session: 5, key: 'k', value: 1 },
      reason: 'wrong_type',
      message: /'session' must be a string, got number/,
    },
    {
      name: 'a long key is too long',
      input: { session: 's', key: 'k'.repeat(257), value: 1 },
      reason: 'too_long',
      message: /'key' is 257 characters, limit 256/,
    },
    { name: 'an unknown field is named', input: { session: 's', key: 'k', value: 1, foo: 1 }, reason: 'unknown_field', message: /unknown field 'foo'.*attrs/ },
    { name: 'attrs must be an object', input: { session: 's', key: 'k', value: 1, attrs: 'x' }, reason: 'wrong_type', message: /'attrs' must be an object/ },
    {
      name: 'more than 64 attrs are too many',
      input: { session: 's', key: 'k', value: 1, attrs: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`a${i}`, i])) },
      reason: 'too_long',
      message: /'attrs' has 65 keys, limit 64/,
    },
    {
      name: 'a value nested 33 deep is too deep',
      input: { session: 's', key: 'k', value: JSON.parse(`${'{"a":'.repeat(33)}1${'}'.repeat(33)}`) },
      reason: 'too_deep',
      message: /'value' nests deeper than 32/,
    },
    { name: 'a value nested 32 deep is fine', input: { session: 's', key: 'k', value: JSON.parse(`${'{"a":'.repeat(31)}[1]${'}'.repeat(31)}`) } },
    {
      name: 'deep arrays inside attrs are too deep',
      input: { session: 's', key: 'k', value: 1, attrs: { a: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) } },
      reason: 'too_deep',
      message: /'attrs'/,
    },
    { name: 'a negative seq is rejected', input: { session: 's', key: 'k', value: 1, seq: -1 }, reason: 'wrong_type', message: /'seq'/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = validateEvent(c.input);
      if (!c.reason) {
        assert.equal(r.ok, true, JSON.stringify(r));
        return;
      }
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.reason, c.reason);
      assert.match(r.error, c.message as RegExp);
    });
  }

  test('ts accepts RFC 3339 and epoch ms and rejects the rest', () => {
    assert.equal(parseTs('2026-11-22T10:00:00Z'), Date.UTC(2026, 10, 22, 10));
    assert.equal(parseTs('2026-11-22T12:00:00.5+02:00'), Date.UTC(2026, 10, 22, 10, 0, 0, 500));
    assert.equal(parseTs(1700000000000), 1700000000000);
    assert.equal(parseTs(undefined), undefined);
    assert.ok(Number.isNaN(parseTs('yesterday') as number));
    assert.ok(Number.isNaN(parseTs('2026-11-22') as number));
    const bad = normalizeEvent({ session: 's', key: 'k', value: 1, ts: 'soon' }, 's');
    assert.deepEqual(Object.keys(bad).sort(), ['error', 'reason']);
  });

  test('normalizing keeps strings raw and serializes other values once', () => {
    const a = normalizeEvent({ session: 's', key: 'k', value: 'line' }, 's');
    assert.ok(!('reason' in a));
    assert.equal(a.value, 'line');
    assert.equal(a.vjson, 0);
    assert.equal(a.ts, null);
    const b = normalizeEvent({ session: 's', key: 'k', value: { code: 1 }, attrs: { a: 'b' }, ts: 5 }, 's');
    assert.ok(!('reason' in b));
    assert.equal(b.value, '{"code":1}');
    assert.equal(b.vjson, 1);
    assert.equal(b.attrs, '{"a":"b"}');
    assert.equal(b.ts, 5);
  });
});

/** A seeded PRNG (xorshift32), so a failure names a reproducible input. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const FIELDS = ['session', 'key', 'value', 'ts', 'component', 'user', 'terminal', 'step', 'level', 'attrs', 'producer', 'seq'];

/**
 * JSON values near every edge the event's checks have: strings on both sides of the length limits,
 * in code units and in code points (astral characters are two units, one point); integers, negative
 * and fractional numbers; arrays, objects nested on both sides of MAX_DEPTH, `attrs` on both sides
 * of MAX_ATTRS; unknown fields and missing required ones.
 */
function randomEvent(r: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const str = (): string => {
    const n = pick([0, 1, 10, MAX_FIELD_CHARS - 1, MAX_FIELD_CHARS, MAX_FIELD_CHARS + 1, 64, 65, 200]);
    const unit = pick(['a', 'é', '😀']);
    return unit.repeat(unit.length === 2 ? Math.ceil(n / pick([1, 2])) : n);
  };
  const nest = (depth: number): unknown => {
    let v: unknown = pick([1, 'x', null, true]);
    for (let i = 0; i < depth; i++) v = r() < 0.5 ? [v] : { a: v };
    return v;
  };
  const any = (): unknown =>
    pick<() => unknown>([
      str,
      () => Math.floor(r() * 1e6),
      () => -1,
      () => 1.5,
      () => 2 ** 60,
      () => Number.POSITIVE_INFINITY, // null once through JSON; kept as built, not finite
      () => r() < 0.5,
      () => null,
      () => [1, 'a'],
      () => ({ code: 1, more: { a: [1] } }),
      () => nest(pick([1, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])),
      () => Object.fromEntries(Array.from({ length: pick([0, 3, MAX_ATTRS, MAX_ATTRS + 1]) }, (_, i) => [`k${i}`, i])),
      () => new Date(0).toISOString(),
    ])();
  const e: Record<string, unknown> = {};
  for (const f of FIELDS) {
    // Mostly valid, so the accepting side is exercised as much as the refusing one.
    if (f === 'key' || f === 'value' ? r() < 0.95 : r() < 0.4)
      e[f] = r() < 0.7 ? (f === 'value' ? any() : f === 'seq' ? 7 : f === 'attrs' ? any() : str()) : any();
  }
  if (r() < 0.05) e[pick(['foo', 'Key', 'constructor', '__proto__x'])] = 1;
  // As a transport receives it: JSON text parsed (one event in ten kept as built, undefined fields and all).
  if (r() < 0.1) {
    if (r() < 0.5) e[pick(FIELDS)] = undefined;
    return e;
  }
  return JSON.parse(JSON.stringify(e));
}

describe('the fast path of event validation', () => {
  test('answers as the schema does on 20,000 inputs near every limit, and takes most valid ones itself', () => {
    const r = rng(20261206);
    let fast = 0;
    let valid = 0;
    for (let i = 0; i < 20_000; i++) {
      const e = randomEvent(r);
      const full = validateBySchema(e);
      assert.deepEqual(validateEvent(e), full, JSON.stringify(e));
      if (plainlyValid(e)) {
        fast++;
        assert.equal(full.ok, true, `the fast path accepted what the schema refuses: ${JSON.stringify(e)}`);
      }
      if (full.ok) valid++;
    }
    assert.ok(valid > 1000, `only ${valid} valid inputs: the generator misses the accepting side`);
    assert.ok(fast > valid / 2, `the fast path took ${fast} of ${valid} valid inputs`);
  });

  test('takes the events ingest sees most: output lines, structured values, attrs, every field', () => {
    const events = [
      { session: 's1', key: 'stdout', value: 'compile ok', level: 'info', component: 'builder', producer: 'p', seq: 1 },
      { session: 's1', key: 'exit', value: { code: 1, signal: null, took: [1.5, 2] }, ts: '2026-12-06T10:00:00.123Z', step: 'test' },
      { key: 'k', value: 1, user: 'u', terminal: 't', ts: 1765000000000, attrs: { host: 'a', tags: ['x'], n: { m: 1 } } },
      { session: 's', key: 'k', value: false, attrs: {} },
    ];
    for (const e of events) assert.equal(plainlyValid(JSON.parse(JSON.stringify(e))), true, JSON.stringify(e));
  });

  test('leaves everything unusual to the schema: no prototype, a class instance, a long string in code units', () => {
    const bare = Object.assign(Object.create(null), { session: 's', key: 'k', value: 1 });
    class Ev {
      key = 'k';
      value = 1;
    }
    const astral = { session: '😀'.repeat(MAX_FIELD_CHARS), key: 'k', value: 1 }; // 512 units, 256 points: valid
    for (const e of [bare, new Ev(), astral]) {
      assert.equal(plainlyValid(e), false);
      assert.deepEqual(validateEvent(e), validateBySchema(e));
    }
    assert.equal(validateEvent(astral).ok, true);
  });
});

describe('ids', () => {
  test('parse and format round-trip', () => {
    assert.deepEqual(parseId('1763805600000-12'), { ms: 1763805600000, seq: 12 });
    assert.equal(formatId({ ms: 1, seq: 0 }), '1-0');
  });
  test('malformed ids are refused', () => {
    for (const s of ['', '1', '1-', '-1', 'a-1', '1-1-1', '1.5-1', ' 1-1', '1234567890123456-1']) assert.equal(parseId(s), null, s);
  });
  test('ids order by ms, then seq', () => {
    assert.ok(compareIds({ ms: 1, seq: 9 }, { ms: 2, seq: 0 }) < 0);
    assert.ok(compareIds({ ms: 2, seq: 10 }, { ms: 2, seq: 9 }) > 0);
    assert.equal(compareIds({ ms: 2, seq: 1 }, { ms: 2, seq: 1 }), 0);
  });
  test('an id names its UTC day partition', () => {
    const midnight = Date.UTC(2026, 10, 23);
    assert.equal(dayOf(midnight - 1), '20261122');
    assert.equal(dayOf(midnight), '20261123');
    assert.equal(dayStartMs('20261123'), midnight);
  });
});
