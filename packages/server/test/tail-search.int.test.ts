/**
 * Live tails filtered by full-text `q` (SPEC §3): history from the store's index, then live
 * events matched by the hub, with one meaning — unicode, punctuation and phrases included — and
 * the session's end still ending a filtered session tail. The seam under concurrent writers is
 * covered by tail-seam.int.test.ts, which includes `q` tails.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from './helpers.ts';
import { ndjson, post, startTestServer } from './helpers.ts';
import { openTail } from './sse-helpers.ts';

const T = { timeout: 20_000 };

async function send(url: string, events: object[]): Promise<void> {
  const r = await post(url, ndjson(events));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.accepted, events.length);
}

const LINES = ['Café opened', 'GET /items/4242 failed', 'items 4242 retried', 'nothing here', 'FAILURE: disk', 'key "a:b" missing', '日本語 error'];

describe('tails filtered by q', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ tailHeartbeatMs: 60_000, idleTimeoutMs: 120_000 });
  });
  after(() => srv.dispose());

  const cases: [string, string[]][] = [
    ['cafe', ['Café opened']],
    ['items/4242', ['GET /items/4242 failed', 'items 4242 retried']],
    ['fail*', ['GET /items/4242 failed', 'FAILURE: disk']],
    ['"a:b"', ['key "a:b" missing']],
    ['日本語', ['日本語 error']],
  ];
  for (const [q, want] of cases) {
    test(`q=${JSON.stringify(q)}: the same events from history and live, in order`, T, async () => {
      const session = `tq-${encodeURIComponent(q)}`;
      // Live first: a tail opened before anything is stored gets everything through the hub.
      const live = await openTail(`${srv.url}/v1/tail?session=${encodeURIComponent(session)}&q=${encodeURIComponent(q)}`);
      await send(
        srv.url,
        LINES.map((value) => ({ session, key: 'stdout', value })),
      );
      await live.waitFor((c) => c.events().length === want.length, 5000, 'live events');
      // Then history: a tail opened afterwards reads the same events from the store's index.
      const hist = await openTail(`${srv.url}/v1/tail?session=${encodeURIComponent(session)}&q=${encodeURIComponent(q)}`);
      await hist.waitFor((c) => c.events().length === want.length, 5000, 'history events');
      await send(srv.url, [{ session, key: 'stdout', value: 'unrelated line' }]);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        live.events().map((e) => e.value),
        want,
      );
      assert.deepEqual(hist.events(), live.events());
      // Frames are byte-identical, whichever side produced them.
      const frames = (c: typeof live) => c.frames.filter((f) => f.event === 'event').map((f) => `${f.id}\n${f.data}`);
      assert.deepEqual(frames(hist), frames(live));
      live.close();
      hist.close();
    });
  }

  test('a session tail with q ends at session.end even though the end event does not match', T, async () => {
    await send(srv.url, [
      { session: 'tq-end', key: 'stdout', value: 'build error one' },
      { session: 'tq-end', key: 'stdout', value: 'fine' },
    ]);
    const tail = await openTail(`${srv.url}/v1/sessions/tq-end/tail?q=error`);
    await tail.waitFor((c) => c.events().length === 1, 5000, 'history');
    await send(srv.url, [
      { session: 'tq-end', key: 'stdout', value: 'fine again' },
      { session: 'tq-end', key: 'stderr', value: 'ERROR two' },
      { session: 'tq-end', key: 'session.end', value: { code: 1 } },
      { session: 'tq-end', key: 'stdout', value: 'error after the end' },
    ]);
    await tail.closed;
    assert.deepEqual(
      tail.events().map((e) => e.value),
      ['build error one', 'ERROR two'],
    );
    assert.equal(tail.frames.at(-1)?.event, 'end');
    // Opened after the end: history, then end at once.
    const late = await openTail(`${srv.url}/v1/sessions/tq-end/tail?q=error`);
    await late.closed;
    assert.deepEqual(
      late.events().map((e) => e.value),
      ['build error one', 'ERROR two'],
    );
    assert.equal(late.frames.at(-1)?.event, 'end');
  });

  test('tails that differ only by q get their own events', T, async () => {
    const a = await openTail(`${srv.url}/v1/tail?session=tq-two&q=alpha`);
    const b = await openTail(`${srv.url}/v1/tail?session=tq-two&q=beta`);
    const all = await openTail(`${srv.url}/v1/tail?session=tq-two&q=`);
    await send(srv.url, [
      { session: 'tq-two', key: 'k', value: 'alpha' },
      { session: 'tq-two', key: 'k', value: 'beta' },
      { session: 'tq-two', key: 'k', value: { v: 'alpha beta' } },
    ]);
    await all.waitFor((c) => c.events().length === 3, 5000, 'unfiltered');
    await a.waitFor((c) => c.events().length === 2, 5000, 'alpha');
    await b.waitFor((c) => c.events().length === 2, 5000, 'beta');
    assert.deepEqual(
      a.events().map((e) => e.value),
      ['alpha', { v: 'alpha beta' }],
    );
    assert.deepEqual(
      b.events().map((e) => e.value),
      ['beta', { v: 'alpha beta' }],
    );
    for (const c of [a, b, all]) c.close();
  });
});
