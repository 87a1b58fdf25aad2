/**
 * Reading backwards (src/history.ts, the events API's `before=`) against a real server: for any
 * event X, pageBefore returns exactly the n events of the session right before X, in order, in one
 * request — with other sessions interleaved and ids spread over many milliseconds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TestServer } from '../../server/test/helpers.ts';
import { startTestServer } from '../../server/test/helpers.ts';
import type { StoredEvent } from '../src/api.ts';
import { idPos, pageBefore } from '../src/history.ts';

let server: TestServer;
let requests = 0;
const realFetch = globalThis.fetch;
let all: StoredEvent[] = [];

before(async () => {
  server = await startTestServer();
  // The UI calls the API by path, as a page of the same origin does; here the origin is the test server.
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    requests++;
    return realFetch(typeof input === 'string' && input.startsWith('/') ? `${server.url}${input}` : input, init);
  }) as typeof fetch;
  // 6,000 events of session "a" in 60 requests, with "b" noise between and inside them, so ids
  // spread over many milliseconds and a's ids are not consecutive.
  for (let r = 0; r < 60; r++) {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      lines.push(JSON.stringify({ session: 'a', key: 'stdout', value: `a ${r * 100 + i}` }));
      if (i % 3 === 0) lines.push(JSON.stringify({ session: 'b', key: 'stdout', value: 'noise' }));
    }
    const res = await realFetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${lines.join('\n')}\n`,
    });
    assert.equal(res.status, 200);
    if (r % 10 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  let cursor: string | null = null;
  for (;;) {
    const res = await realFetch(`${server.url}/v1/sessions/a/events?limit=10000${cursor ? `&after=${cursor}` : ''}`);
    const page = (await res.json()) as { events: StoredEvent[]; next: string | null };
    all = all.concat(page.events);
    if (!page.next) break;
    cursor = page.next;
  }
  assert.equal(all.length, 6000);
});

after(async () => {
  globalThis.fetch = realFetch;
  await server?.dispose();
});

test('pageBefore returns exactly the events before any id in one request, and says when it reached the start', async () => {
  for (const at of [0, 1, 5, 249, 250, 999, 1000, 1001, 3333, 5999]) {
    const x = all[at] as StoredEvent;
    for (const n of [1, 10, 1000]) {
      requests = 0;
      const page = await pageBefore('a', idPos(x.id) as bigint, n);
      const want = all.slice(Math.max(0, at - n), at);
      assert.deepEqual(
        page.events.map((e) => e.value),
        want.map((e) => e.value),
        `at ${at}, n ${n}`,
      );
      assert.equal(page.atStart, at <= n, `atStart at ${at} n ${n}`);
      assert.equal(requests, 1, `at ${at} n ${n}`);
    }
  }
});
