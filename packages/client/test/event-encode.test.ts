import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeEvent } from '../src/event-encode.js';

const MiB = 1024 * 1024;

describe('encodeEvent', () => {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const throwing = {
    session: 's',
    key: 'k',
    get value(): string {
      throw new Error('getter exploded');
    },
  };

  const invalid: [string, unknown, string][] = [
    ['a string', 'hello', 'not_object'],
    ['null', null, 'not_object'],
    ['undefined', undefined, 'not_object'],
    ['an array', [{ session: 's', key: 'k', value: 1 }], 'not_object'],
    ['a number', 42, 'not_object'],
    ['no value', { session: 's', key: 'k' }, 'missing_field'],
    ['no key', { session: 's', value: 1 }, 'missing_field'],
    ['a numeric key', { session: 's', key: 7, value: 1 }, 'wrong_type'],
    ['a null value', { session: 's', key: 'k', value: null }, 'wrong_type'],
    ['an array value', { session: 's', key: 'k', value: [1, 2] }, 'wrong_type'],
    ['a function value', { session: 's', key: 'k', value: () => 1 }, 'wrong_type'],
    ['NaN', { session: 's', key: 'k', value: Number.NaN }, 'wrong_type'],
    ['a 257-character key', { session: 's', key: 'k'.repeat(257), value: 1 }, 'too_long'],
    ['an unknown field', { session: 's', key: 'k', value: 1, color: 'red' }, 'unknown_field'],
    ['no session, user or terminal', { key: 'k', value: 1 }, 'unresolved_session'],
    ['an empty session', { session: '', key: 'k', value: 1 }, 'unresolved_session'],
    ['a malformed ts', { session: 's', key: 'k', value: 1, ts: 'yesterday' }, 'invalid_ts'],
    ['an invalid Date', { session: 's', key: 'k', value: 1, ts: new Date('nope') }, 'wrong_type'],
    ['a BigInt in attrs', { session: 's', key: 'k', value: 1, attrs: { n: 10n } }, 'not_serializable'],
    ['a throwing getter', throwing, 'not_serializable'],
  ];
  for (const [what, input, reason] of invalid) {
    test(`rejects ${what} as ${reason}, without throwing`, () => {
      const r = encodeEvent(input, undefined, MiB);
      assert.ok('reason' in r, `accepted: ${JSON.stringify(r)}`);
      assert.equal(r.reason, reason, r.message);
      assert.ok(r.message.length > 0 && !r.message.includes('\n'), r.message);
    });
  }

  test('a circular value is dropped (too_deep where the protocol bounds nesting, else not_serializable)', () => {
    const r = encodeEvent({ session: 's', key: 'k', value: circular }, undefined, MiB);
    assert.ok('reason' in r);
    assert.ok(['too_deep', 'not_serializable'].includes(r.reason), r.reason);
  });

  test('a Proxy that throws on every access is not_serializable or not_object, never an exception', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('no');
        },
        ownKeys() {
          throw new Error('no');
        },
        has() {
          throw new Error('no');
        },
      },
    );
    const r = encodeEvent(hostile, { session: 's' }, MiB);
    assert.ok('reason' in r);
  });

  test('a valid event becomes one line of JSON with its exact UTF-8 size', () => {
    const r = encodeEvent({ session: 's', key: 'k', value: 'héllo 🙂', attrs: { a: 1 } }, undefined, MiB);
    assert.ok(!('reason' in r));
    assert.equal(r.json, '{"session":"s","key":"k","value":"héllo 🙂","attrs":{"a":1}}');
    assert.equal(r.bytes, Buffer.byteLength(r.json));
    assert.equal(r.ownProducer, false);
  });

  test('user or terminal without session is left for the server to resolve', () => {
    const r = encodeEvent({ user: 'ana', key: 'k', value: true }, undefined, MiB);
    assert.ok(!('reason' in r));
  });

  test('defaults fill missing fields, the event wins, attrs merge key by key', () => {
    const r = encodeEvent(
      { key: 'k', value: 1, level: 'warn', attrs: { b: 2, c: 3 } },
      { session: 'd', component: 'api', level: 'info', attrs: { a: 1, b: 1 } },
      MiB,
    );
    assert.ok(!('reason' in r));
    assert.deepEqual(JSON.parse(r.json), { session: 'd', component: 'api', level: 'warn', key: 'k', value: 1, attrs: { a: 1, b: 2, c: 3 } });
  });

  test('a Date ts is sent as epoch milliseconds; an RFC 3339 string is kept', () => {
    const at = new Date('2026-11-22T10:00:00.123Z');
    const r = encodeEvent({ session: 's', key: 'k', value: 1, ts: at }, undefined, MiB);
    assert.ok(!('reason' in r));
    assert.equal(JSON.parse(r.json).ts, at.getTime());
    const s = encodeEvent({ session: 's', key: 'k', value: 1, ts: '2026-11-22T10:00:00+02:00' }, undefined, MiB);
    assert.ok(!('reason' in s));
  });

  test('an event over maxEventBytes is line_too_large, naming the limit', () => {
    const r = encodeEvent({ session: 's', key: 'k', value: 'x'.repeat(2000) }, undefined, 1024);
    assert.ok('reason' in r);
    assert.equal(r.reason, 'line_too_large');
    assert.match(r.message, /limit 1 KiB \(maxEventBytes\)/);
  });

  test("the caller's own producer is kept and flagged", () => {
    const r = encodeEvent({ session: 's', key: 'k', value: 1, producer: 'me', seq: 3 } as never, undefined, MiB);
    assert.ok(!('reason' in r));
    assert.equal(r.ownProducer, true);
  });
});
