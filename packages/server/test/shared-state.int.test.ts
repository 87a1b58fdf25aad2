/**
 * State that must be shared for any instance to serve any request (issue: scale-out): the
 * session registry and per-source rate limits, across two server instances on one Redis and one
 * PostgreSQL database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
});
