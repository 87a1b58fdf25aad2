/**
 * State that must be shared for any instance to serve any request (issue: scale-out): the
 * session registry and per-source rate limits, across two server instances on one Redis and one
 * PostgreSQL database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createToken } from '@logsrv/server';
import type { TestServer } from './helpers.ts';
import { post, readAll, startTestServer } from './helpers.ts';
import { freshPgDatabase, redisOrSkip } from './services.ts';

const REDIS = 'redis://127.0.0.1:6379/12';

describe('two instances over one Redis and one PostgreSQL', () => {
  let a: TestServer | null = null;
  let b: TestServer | null = null;
  // A second pair with a small rate limit, so the registry test's requests do not spend it.
  let c: TestServer | null = null;
  let d: TestServer | null = null;
  let pg: Awaited<ReturnType<typeof freshPgDatabase>> = null;
  before(async () => {
    if (!(await redisOrSkip(REDIS, { flush: true }))) return;
    pg = await freshPgDatabase();
    if (!pg) return;
    const flags = { queue: REDIS, store: pg.url, queueShards: 2 };
    a = await startTestServer(flags);
    b = await startTestServer(flags);
    c = await startTestServer({ ...flags, rateLimit: 2, rateLimitBurst: 2 });
    d = await startTestServer({ ...flags, rateLimit: 2, rateLimitBurst: 2 });
  });
  after(async () => {
    for (const s of [a, b, c, d]) await s?.dispose();
    await pg?.drop();
  });

  test('a session registered on one instance enriches events sent to the other at once', async (t) => {
    if (!a || !b) return t.skip('Redis or PostgreSQL is not available');
    const put = await fetch(`${a.url}/v1/sessions/reg-shared`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ada' }),
    });
    assert.ok(put.status === 200 || put.status === 201, `PUT answered ${put.status}`);
    const r = await post(b.url, JSON.stringify({ user: 'ada', key: 'login', value: true }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const stored = await readAll(a.url, 'reg-shared');
    assert.deepEqual(
      stored.map((e: { key: string; user?: string }) => [e.key, e.user]),
      [['login', 'ada']],
    );
  });

  test('a source that used up its allowance on one instance is refused by the other (429)', async (t) => {
    if (!c || !d) return t.skip('Redis or PostgreSQL is not available');
    let allowed = 0;
    let status = 200;
    for (let i = 0; i < 20 && status !== 429; i++) {
      status = (await post(c.url, JSON.stringify({ session: 'rl', key: 'k', value: i }))).status;
      if (status === 200) allowed++;
    }
    assert.equal(status, 429, 'instance A limits the source');
    assert.ok(allowed >= 2 && allowed <= 4, `allowance 2/s + burst 2, got ${allowed}`);
    const other = await post(d.url, JSON.stringify({ session: 'rl', key: 'k', value: 'b' }));
    assert.equal(other.status, 429, 'instance B refuses the same source: the allowance is shared');
    assert.ok(other.headers.get('retry-after'));
  });

  test("a token's event quota is spent across instances: what it used on one, the other refuses (429)", async (t) => {
    if (!pg) return t.skip('Redis or PostgreSQL is not available');
    // Both instances read one token file (a shared --data), as the README says a deployment does.
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-shared-quota-'));
    const limited = createToken(dataDir, { scopes: ['ingest'], name: 'noisy', eventsPerSecond: 20, eventsBurst: 50 });
    const flags = { queue: REDIS, store: pg.url, queueShards: 2 };
    const e = await startTestServer(flags, { dataDir });
    const f = await startTestServer(flags, { dataDir });
    try {
      const send = (url: string, n: number) =>
        fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${limited.token}`, 'content-type': 'application/x-ndjson' },
          body: Array.from({ length: n }, (_x, i) => JSON.stringify({ session: 'quota', key: 'k', value: i })).join('\n'),
        });
      // 80 events on E: the burst (50) is spent and the balance is in debt (-30, 1.5 s at 20/s).
      const first = await send(e.url, 80);
      assert.equal(first.status, 200);
      const other = await send(f.url, 1);
      assert.equal(other.status, 429, 'instance F sees the debt run up on E');
      assert.match(((await other.json()) as { error: { message: string } }).error.message, /over its quota of 20 events\/s/);
    } finally {
      await e.dispose();
      await f.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
