/**
 * Hostile input, generated (fast-check): random and mutated bodies, datagrams and query strings.
 * The server must never crash, never answer a client's mistake with a 5xx, and must store every
 * valid event that arrives beside bad ones. FUZZ_RUNS sets the cases per property (default 150;
 * e.g. FUZZ_RUNS=5000 for a long run on demand).
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
let tried = 0;

/** Lines that are not valid events, of many kinds. */
const badLine = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .record({ session: fc.oneof(fc.integer(), fc.constant(null), fc.string({ minLength: 257, maxLength: 300 })), key: fc.string(), value: fc.jsonValue() })
    .map((v) => JSON.stringify(v)),
  fc
    .record({
      session: fc.constant('fz'),
      key: fc.constant('k'),
      value: fc.constant(1),
      ts: fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.double().filter((d) => !Number.isInteger(d)),
        fc.constant(-5),
      ),
    })
    .map((v) => JSON.stringify(v)),
  fc.nat({ max: 5000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
  fc.integer({ min: 33, max: 200 }).map((n) => JSON.stringify({ session: 'fz', key: 'k', value: JSON.parse(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`) })),
  fc.constant('{"session":"fz","key":"k","value":1,"__proto__":{"x":1}}'),
  fc.constant(JSON.stringify({ session: 'fz', key: 'k', value: 1, attrs: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`a${i}`, i])) })),
);

describe('fuzz', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ maxLineBytes: 64 * 1024 });
  });
  after(async () => {
    await srv.dispose();
    process.stdout.write(`fuzz: ${tried} generated cases tried (FUZZ_RUNS=${RUNS})\n`);
  });

  test('NDJSON bodies mixing valid events and garbage: no 5xx, every valid event stored', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(null), badLine), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        fc.boolean(),
        async (slots, gzip, crlf) => {
          tried++;
          const session = `fz-${n++}`;
          const valid: string[] = [];
          const lines = slots.map((s, i) => {
            if (s !== null) return s.replace(/\n/g, ' ');
            valid.push(`v${i}`);
            return JSON.stringify({ session, key: 'stdout', value: `v${i}` });
          });
          const text = lines.join(crlf ? '\r\n' : '\n');
          const body = gzip ? gzipSync(text) : Buffer.from(text);
          const res = await fetch(`${srv.url}/v1/events`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/x-ndjson', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
          });
          assert.ok(res.status < 500, `status ${res.status}`);
          const json = (await res.json()) as any;
          if (valid.length > 0) {
            assert.equal(res.status, 200);
            assert.equal(json.accepted, valid.length);
          } else assert.equal(res.status, 400);
          assert.deepEqual(
            (await readAll(srv.url, session)).map((e) => e.value),
            valid,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('arbitrary bytes with arbitrary content types and encodings: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain', 'multipart/form-data', 'application/octet-stream', ''),
        fc.constantFrom('identity', 'gzip', 'br', 'deflate', ''),
        async (bytes, type, encoding) => {
          tried++;
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          if (encoding) headers['content-encoding'] = encoding;
          const res = await fetch(`${srv.url}/v1/events`, { method: 'POST', body: bytes, headers });
          assert.ok(res.status < 500, `status ${res.status} for ${type}/${encoding}`);
          const body = (await res.json()) as any;
          assert.ok(res.status === 200 || typeof body.error?.code === 'string');
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('random query strings on the read API: never a 5xx', async () => {
    const param = fc.constantFrom('after', 'limit', 'format', 'key', 'step', 'q', 'session', 'from', 'window');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(param, fc.string({ maxLength: 40 })), { maxLength: 5 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        async (pairs, session) => {
          tried++;
          const qs = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
          for (const path of [`/v1/sessions/${encodeURIComponent(session)}/events`, '/v1/reports/blocked']) {
            const res = await fetch(`${srv.url}${path}?${qs}`);
            assert.ok(res.status < 500, `status ${res.status} for ${path}?${qs}`);
            await res.arrayBuffer();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('random datagrams never stop valid ones from being stored', async () => {
    const sock = createSocket('udp4');
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.uint8Array({ maxLength: 1500 }).map((b) => Buffer.from(b)),
              badLine.map((s) => Buffer.from(s)),
            ),
            { maxLength: 10 },
          ),
          async (junk) => {
            tried++;
            const marker = `u${tried}`;
            for (const d of [...junk, Buffer.from(JSON.stringify({ session: 'fz-udp', key: 'k', value: marker }))]) {
              if (d.length === 0) continue;
              await new Promise<void>((r) => sock.send(d, srv.udpPort as number, '127.0.0.1', () => r()));
            }
            const end = Date.now() + 3000;
            for (;;) {
              const got = await readAll(srv.url, 'fz-udp', { key: 'k' });
              if (got.some((e) => e.value === marker)) break;
              if (Date.now() > end) assert.fail(`valid datagram ${marker} not stored`);
              await new Promise((r) => setTimeout(r, 10));
            }
          },
        ),
        { numRuns: Math.ceil(RUNS / 3) },
      );
    } finally {
      sock.close();
    }
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
  });
});
