import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareIds, dayOf, dayStartMs, formatId, normalizeEvent, parseId, parseTs, validateEvent } from '@logsrv/protocol';

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
