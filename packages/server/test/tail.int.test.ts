/**
 * Live tails over real sockets (SPEC §3): history then live, end semantics, resume, from=now,
 * bad requests, heartbeats, the connection limit, slow clients and shutdown. The seam under
 * concurrent writers is tested in tail-seam.int.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compareIds, parseId } from '@logsrv/protocol';
import type { TestServer } from './helpers.ts';
import { ndjson, post, readAll, startTestServer } from './helpers.ts';
import { eventIds, openTail } from './sse-helpers.ts';

const T = { timeout: 20_000 };

async function send(url: string, events: object[]): Promise<void> {
  const r = await post(url, ndjson(events));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.accepted, events.length);
}

const out = (session: string, value: string, extra: object = {}) => ({ session, key: 'stdout', value, ...extra });

describe('session tail', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ tailHeartbeatMs: 60_000, idleTimeoutMs: 120_000 });
  });
  after(() => srv.dispose());

  test('sends stored events, then live ones, then end on session.end — and the SSE headers', T, async () => {
    await send(srv.url, [out('a', 'one'), { session: 'a', key: 'stderr', value: 'two' }, out('other', 'x')]);
    const tail = await openTail(`${srv.url}/v1/sessions/a/tail`);
    assert.equal(tail.status, 200);
    assert.match(String(tail.headers['content-type']), /^text\/event-stream/);
    assert.match(String(tail.headers['cache-control']), /no-cache/);
    assert.equal(tail.headers['x-accel-buffering'], 'no');
    await tail.waitFor((c) => c.events().length === 2, 5000, 'history');
    assert.ok(
      tail.frames.some((f) => f.retry !== undefined),
      'a retry: hint is sent',
    );
    await send(srv.url, [out('a', 'three'), out('other', 'y'), { session: 'a', key: 'session.end', value: { code: 0 } }]);
    await tail.closed;
    assert.deepEqual(
      tail.events().map((e) => e.value),
      ['one', 'two', 'three', { code: 0 }],
    );
    const last = tail.frames.at(-1);
    assert.equal(last?.event, 'end');
    assert.equal(JSON.parse(last?.data as string).id, tail.events().at(-1).id);
    // Every frame id is the event's own id, and the sequence is the stored one.
    const stored = await readAll(srv.url, 'a');
    assert.deepEqual(tail.events(), stored);
    assert.deepEqual(
      eventIds(tail),
      stored.map((e) => e.id),
    );
  });

  test('a live frame is byte-identical to the same event read back from history', T, async () => {
    const live = await openTail(`${srv.url}/v1/sessions/ident/tail`);
    const full = {
      session: 'ident',
      key: 'api.latency',
      value: { ms: 12.5, ok: true, path: '/a"b\u2028c', nested: { x: [1, null] } },
      ts: '2026-01-02T03:04:05.678+02:00',
      component: 'api',
      user: 'u1',
      terminal: 't1',
      step: 'build',
      level: 'info',
      attrs: { region: 'eu', n: 3 },
      producer: 'p1',
      seq: 7,
    };
    await send(srv.url, [full, out('ident', 'plain \u00e9 line'), { session: 'ident', key: 'n', value: 42 }, { session: 'ident', key: 'b', value: false }]);
    await live.waitFor((c) => c.events().length === 4, 5000, 'live events');
    live.close();
    const hist = await openTail(`${srv.url}/v1/sessions/ident/tail`);
    await hist.waitFor((c) => c.events().length === 4, 5000, 'history events');
    hist.close();
    const frames = (c: typeof live) => c.frames.filter((f) => f.event === 'event').map((f) => `${f.id}\n${f.data}`);
    assert.deepEqual(frames(live), frames(hist));
  });

  test('step.exit with final: true ends the tail; step.exit without it does not', T, async () => {
    const tail = await openTail(`${srv.url}/v1/sessions/steps/tail`);
    await send(srv.url, [
      { session: 'steps', key: 'step.exit', value: { code: 1, final: false } },
      { session: 'steps', key: 'step.exit', value: { code: 0 } },
    ]);
    await tail.waitFor((c) => c.events().length === 2, 5000, 'two non-final exits');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(tail.isClosed(), false, 'non-final step.exit must not end the tail');
    await send(srv.url, [{ session: 'steps', key: 'step.exit', value: { code: 0, final: true } }, out('steps', 'after the end')]);
    await tail.closed;
    assert.equal(tail.frames.at(-1)?.event, 'end');
    assert.deepEqual(
      tail.events().map((e) => e.value.final),
      [false, undefined, true],
      'nothing after the end is sent',
    );
  });

  test('a tail opened after the end gets the history, then end, and so does a resume at the end', T, async () => {
    await send(srv.url, [out('done', '1'), out('done', '2'), { session: 'done', key: 'session.end', value: 'bye' }]);
    const tail = await openTail(`${srv.url}/v1/sessions/done/tail`);
    await tail.closed;
    assert.deepEqual(
      tail.events().map((e) => e.value),
      ['1', '2', 'bye'],
    );
    assert.equal(tail.frames.at(-1)?.event, 'end');
    const endId = eventIds(tail).at(-1) as string;
    const resumed = await openTail(`${srv.url}/v1/sessions/done/tail`, { 'last-event-id': endId });
    await resumed.closed;
    assert.deepEqual(resumed.events(), []);
    assert.equal(resumed.frames.at(-1)?.event, 'end');
    // A filtered tail whose filter excludes the end event still ends.
    const filtered = await openTail(`${srv.url}/v1/sessions/done/tail?key=stdout`);
    await filtered.closed;
    assert.deepEqual(
      filtered.events().map((e) => e.value),
      ['1', '2'],
    );
    assert.equal(filtered.frames.at(-1)?.event, 'end');
  });

  test('a filtered live tail ends on session.end even though the end event is not sent', T, async () => {
    const tail = await openTail(`${srv.url}/v1/sessions/f/tail?key=stdout`);
    await send(srv.url, [out('f', 'a'), { session: 'f', key: 'stderr', value: 'no' }, { session: 'f', key: 'session.end', value: 0 }]);
    await tail.closed;
    assert.deepEqual(
      tail.events().map((e) => e.value),
      ['a'],
    );
    assert.equal(tail.frames.at(-1)?.event, 'end');
  });

  test('Last-Event-ID resumes exactly after that id and wins over ?after=', T, async () => {
    await send(
      srv.url,
      Array.from({ length: 10 }, (_, i) => out('r', `l${i}`)),
    );
    const stored = await readAll(srv.url, 'r');
    const tail = await openTail(`${srv.url}/v1/sessions/r/tail?after=${stored[1].id}`, { 'last-event-id': stored[6].id });
    await tail.waitFor((c) => c.events().length === 3, 5000, 'resumed events');
    const viaAfter = await openTail(`${srv.url}/v1/sessions/r/tail?after=${stored[7].id}`);
    await viaAfter.waitFor((c) => c.events().length === 2, 5000, 'after= events');
    await send(srv.url, [out('r', 'l10')]);
    await tail.waitFor((c) => c.events().length === 4, 5000, 'live event');
    await viaAfter.waitFor((c) => c.events().length === 3, 5000, 'live event');
    tail.close();
    viaAfter.close();
    assert.deepEqual(
      tail.events().map((e) => e.value),
      ['l7', 'l8', 'l9', 'l10'],
    );
    assert.deepEqual(
      viaAfter.events().map((e) => e.value),
      ['l8', 'l9', 'l10'],
    );
  });

  test('from=now skips stored events and names the resume point before any event', T, async () => {
    await send(srv.url, [out('now', 'old1'), out('now', 'old2')]);
    const tail = await openTail(`${srv.url}/v1/sessions/now/tail?from=now`);
    await tail.waitFor((c) => c.frames.some((f) => f.id !== undefined), 5000, 'resume id');
    const resumeAt = tail.frames.find((f) => f.id !== undefined)?.id as string;
    const stored = await readAll(srv.url, 'now');
    const newest = parseId(stored.at(-1)?.id as string);
    const at = parseId(resumeAt);
    assert.ok(at && newest && compareIds(at, newest) >= 0, `resume point ${resumeAt} is not before the newest stored event`);
    await send(srv.url, [out('now', 'new1')]);
    await tail.waitFor((c) => c.events().length === 1, 5000, 'new event');
    tail.close();
    assert.deepEqual(
      tail.events().map((e) => e.value),
      ['new1'],
    );
    // Resuming from that point (what EventSource would do) gives exactly the new event.
    const again = await openTail(`${srv.url}/v1/sessions/now/tail`, { 'last-event-id': resumeAt });
    await again.waitFor((c) => c.events().length === 1, 5000, 'resumed');
    again.close();
    assert.deepEqual(
      again.events().map((e) => e.value),
      ['new1'],
    );
  });
});

describe('tail requests that cannot be served', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ maxTailClients: 2 });
    await send(srv.url, [out('s', 'x')]);
  });
  after(() => srv.dispose());

  const cases: [string, string, Record<string, string>, number, string, RegExp][] = [
    ['unknown parameter', '/v1/tail?sesion=x', {}, 400, 'LOGSRV_ERR_BAD_PARAM', /unknown parameter 'sesion'/],
    ['session given twice', '/v1/sessions/s/tail?session=t', {}, 400, 'LOGSRV_ERR_BAD_PARAM', /unknown parameter 'session'/],
    ['q without a word', '/v1/sessions/s/tail?q=--', {}, 400, 'LOGSRV_ERR_BAD_PARAM', /no word to search for/],
    ['malformed after', '/v1/sessions/s/tail?after=yesterday', {}, 400, 'LOGSRV_ERR_BAD_CURSOR', /not an event id/],
    ['malformed Last-Event-ID', '/v1/sessions/s/tail', { 'last-event-id': 'abc' }, 400, 'LOGSRV_ERR_BAD_CURSOR', /Last-Event-ID/],
    ['cursor newer than the store', '/v1/sessions/s/tail?after=99999999999999-0', {}, 400, 'LOGSRV_ERR_BAD_CURSOR', /unknown cursor/],
    ['from other than now', '/v1/tail?from=2026-01-01', {}, 400, 'LOGSRV_ERR_BAD_PARAM', /'from' must be 'now'/],
    ['after and from=now', '/v1/tail?from=now&after=1-0', {}, 400, 'LOGSRV_ERR_BAD_PARAM', /either/],
    ['empty filter', '/v1/tail?key=', {}, 400, 'LOGSRV_ERR_BAD_PARAM', /'key' is empty/],
    ['filter given twice', '/v1/tail?key=a&key=b', {}, 400, 'LOGSRV_ERR_BAD_PARAM', /more than once/],
  ];
  for (const [name, path, headers, status, code, message] of cases) {
    test(`${name} is answered ${status} ${code} before streaming`, T, async () => {
      const res = await fetch(srv.url + path, { headers });
      assert.equal(res.status, status);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, code);
      assert.match(body.error.message, message);
    });
  }

  test('tails over --max-tail-clients get 503 with Retry-After; a closed tail frees its slot', T, async () => {
    const a = await openTail(`${srv.url}/v1/tail`);
    const b = await openTail(`${srv.url}/v1/sessions/s/tail?from=now`);
    const c = await fetch(`${srv.url}/v1/sessions/s/tail`);
    assert.equal(c.status, 503);
    assert.ok(c.headers.get('retry-after'));
    assert.match(((await c.json()) as { error: { message: string } }).error.message, /--max-tail-clients/);
    a.close();
    const deadline = Date.now() + 5000;
    for (;;) {
      const d = await openTail(`${srv.url}/v1/sessions/s/tail?from=now`);
      if (d.status === 200) {
        d.close();
        break;
      }
      assert.ok(Date.now() < deadline, 'slot was not freed');
      await new Promise((r) => setTimeout(r, 50));
    }
    b.close();
  });
});

describe('cross-session tail', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(() => srv.dispose());

  test('GET /v1/tail filters by component and level across sessions, history then live', T, async () => {
    const ev = (session: string, component: string, level: string, value: string) => ({ session, key: 'log', value, component, level });
    await send(srv.url, [ev('s1', 'api', 'error', 'h1'), ev('s2', 'api', 'info', 'h2'), ev('s3', 'db', 'error', 'h3'), ev('s4', 'api', 'error', 'h4')]);
    const tail = await openTail(`${srv.url}/v1/tail?component=api&level=error`);
    const all = await openTail(`${srv.url}/v1/tail`);
    await tail.waitFor((c) => c.events().length === 2, 5000, 'history');
    await send(srv.url, [ev('s5', 'api', 'error', 'l1'), ev('s1', 'db', 'error', 'l2'), ev('s6', 'api', 'error', 'l3')]);
    await tail.waitFor((c) => c.events().length === 4, 5000, 'live');
    await all.waitFor((c) => c.events().length === 7, 5000, 'everything');
    tail.close();
    all.close();
    assert.deepEqual(
      tail.events().map((e) => e.value),
      ['h1', 'h4', 'l1', 'l3'],
    );
    assert.deepEqual(
      all.events().map((e) => e.value),
      ['h1', 'h2', 'h3', 'h4', 'l1', 'l2', 'l3'],
    );
  });

  test('session tails of an ended session do not end a cross-session tail', T, async () => {
    const tail = await openTail(`${srv.url}/v1/tail?key=session.end`);
    await send(srv.url, [{ session: 'e1', key: 'session.end', value: 1 }]);
    await tail.waitFor((c) => c.events().length === 1, 5000, 'end event as data');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(tail.isClosed(), false);
    tail.close();
  });
});

describe('heartbeats, slow clients and shutdown', () => {
  test('an idle tail gets a comment every --tail-heartbeat-ms', T, async () => {
    const srv = await startTestServer({ tailHeartbeatMs: 50 });
    try {
      const tail = await openTail(`${srv.url}/v1/sessions/quiet/tail`);
      await tail.waitFor((c) => c.frames.filter((f) => f.comments.includes('keep-alive')).length >= 4, 3000, 'four heartbeats');
      assert.equal(tail.events().length, 0);
      tail.close();
    } finally {
      await srv.dispose();
    }
  });

  // It moves 64 MB through ingest and a tail: 7-11 s alone on 2 cores, past 20 s once beside CI's
  // other suites.
  test('a client that stops reading gets event: lagged with the last id sent, and resuming there loses nothing', { timeout: 60_000 }, async () => {
    const srv = await startTestServer({ tailClientBufferBytes: 64 * 1024 });
    try {
      const slow = await openTail(`${srv.url}/v1/sessions/big/tail`);
      await slow.waitFor((c) => c.frames.length > 0, 5000, 'preamble');
      // An event committed after the tail attached arrives only once the tail is live (a tail
      // still reading history is paced by the store instead, and never lagged).
      await send(srv.url, [out('big', 'first')]);
      await slow.waitFor((c) => c.events().length === 1, 5000, 'first live event');
      slow.pause();
      // Far more than the socket buffers on both sides plus the 64 KiB limit.
      const line = 'x'.repeat(16 * 1024);
      for (let b = 0; b < 40; b++) {
        await send(
          srv.url,
          Array.from({ length: 100 }, (_, i) => out('big', `${b}:${i}:${line}`)),
        );
      }
      await send(srv.url, [{ session: 'big', key: 'session.end', value: 0 }]);
      slow.resume();
      await slow.closed;
      const lagged = slow.frames.find((f) => f.event === 'lagged');
      assert.ok(lagged, 'a lagged frame was sent');
      assert.equal(slow.frames.at(-1), lagged, 'lagged is the last frame');
      const ids = eventIds(slow);
      const lastId = JSON.parse(lagged.data as string).lastId;
      assert.equal(lastId, ids.at(-1), 'lagged names the last id the client got');
      const stored = await readAll(srv.url, 'big');
      assert.ok(ids.length < stored.length, 'the client was cut off before the end');
      assert.deepEqual(
        ids,
        stored.slice(0, ids.length).map((e) => e.id),
      );
      const resumed = await openTail(`${srv.url}/v1/sessions/big/tail`, { 'last-event-id': lastId });
      await resumed.closed;
      assert.equal(resumed.frames.at(-1)?.event, 'end');
      assert.deepEqual(
        [...ids, ...eventIds(resumed)],
        stored.map((e) => e.id),
      );
      const metrics = await (await fetch(`${srv.url}/metrics`)).text();
      assert.match(metrics, /logsrv_tail_lagged_total 1\b/);
    } finally {
      await srv.dispose();
    }
  });

  test('ingest is not slowed by a client that never reads', T, async () => {
    const srv = await startTestServer({ tailClientBufferBytes: 64 * 1024 });
    try {
      const stuck = await openTail(`${srv.url}/v1/tail`);
      await stuck.waitFor((c) => c.frames.length > 0, 5000, 'preamble');
      await send(srv.url, [out('flood', 'first')]);
      await stuck.waitFor((c) => c.events().length === 1, 5000, 'first live event');
      stuck.pause();
      const line = 'y'.repeat(8 * 1024);
      const t0 = performance.now();
      for (let b = 0; b < 30; b++) {
        await send(
          srv.url,
          Array.from({ length: 200 }, (_, i) => out('flood', `${b}:${i}:${line}`)),
        );
      }
      const ms = performance.now() - t0;
      // 48 MiB through a tail nobody reads: every request still commits (the client is dropped).
      assert.ok(ms < 15_000, `ingest took ${ms} ms`);
      stuck.resume();
      await stuck.closed;
      assert.equal(stuck.frames.at(-1)?.event, 'lagged');
    } finally {
      await srv.dispose();
    }
  });

  test('server close() ends open tails and does not wait for them', T, async () => {
    const srv = await startTestServer();
    const tails = await Promise.all([openTail(`${srv.url}/v1/sessions/z/tail`), openTail(`${srv.url}/v1/tail`)]);
    await Promise.all(tails.map((t) => t.waitFor((c) => c.frames.length > 0, 5000, 'preamble')));
    const t0 = performance.now();
    await srv.dispose();
    assert.ok(performance.now() - t0 < 5000, 'close() returned promptly');
    await Promise.all(tails.map((t) => t.closed));
    const metrics = srv.app.server.listening;
    assert.equal(metrics, false);
  });
});
