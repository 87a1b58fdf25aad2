/**
 * The tail with a standard EventSource client (the `eventsource` package, which follows the
 * WHATWG spec browsers implement): it reconnects by itself after a dropped stream, sending
 * `Last-Event-ID`, and the server resumes exactly after it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventSource, type FetchLike } from 'eventsource';
import { ndjson, post, readAll, startTestServer } from './helpers.ts';

test('EventSource gets history and live events, resumes with Last-Event-ID after a drop, and stops on end', { timeout: 20_000 }, async () => {
  const srv = await startTestServer();
  try {
    const session = 'es';
    const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ session, key: 'stdout', value: `line ${from + i}` }));
    assert.equal((await post(srv.url, ndjson(lines(0, 10)))).status, 200);

    const sentIds: (string | null)[] = [];
    let connections = 0;
    // The first response is cut after a few events, as a proxy dropping the connection would.
    const cutting: FetchLike = async (url, init) => {
      connections++;
      sentIds.push(init.headers['Last-Event-ID'] ?? (init.headers as Record<string, string>)['last-event-id'] ?? null);
      const res = await fetch(url, init as RequestInit);
      if (connections > 1 || !res.body) return res;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let seen = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          // Cut once some events went through (the first chunk may hold only the preamble).
          if (seen >= 3) {
            await reader.cancel();
            ctl.error(new Error('connection dropped'));
            return;
          }
          const { done, value } = await reader.read();
          if (done) return ctl.close();
          seen += decoder.decode(value, { stream: true }).split('event: event').length - 1;
          ctl.enqueue(value);
        },
      });
      return { body, url: res.url, status: res.status, redirected: res.redirected, headers: res.headers };
    };

    const got: { id: string; value: string }[] = [];
    const es = new EventSource(`${srv.url}/v1/sessions/${session}/tail`, { fetch: cutting });
    const ended = new Promise<void>((resolve) => {
      es.addEventListener('end', () => {
        es.close();
        resolve();
      });
    });
    es.addEventListener('event', (m) => {
      const e = JSON.parse(m.data) as { id: string; value: string };
      assert.equal(m.lastEventId, e.id);
      got.push(e);
    });
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!cond()) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}; got ${got.length} events, ${connections} connections`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => connections >= 2 && got.length >= 10, 'the reconnect');
    assert.equal((await post(srv.url, ndjson([...lines(10, 5), { session, key: 'session.end', value: 0 }]))).status, 200);
    await ended;

    const stored = await readAll(srv.url, session);
    assert.deepEqual(
      got.map((e) => e.id),
      stored.map((e) => e.id),
    );
    assert.equal(sentIds[0], null);
    assert.ok(sentIds[1], 'the reconnect sent Last-Event-ID');
    assert.ok(
      stored.some((e) => e.id === sentIds[1]),
      'Last-Event-ID is the id of an event received before the drop',
    );
  } finally {
    // fetch (undici) can leave a connection open that never carried a request; graceful close
    // would wait for it (Node does not count it as idle), so this test drops it.
    srv.app.server.closeAllConnections();
    await srv.dispose();
  }
});
