/**
 * SPEC §2: the response to POST /v1/events comes after the accepted events are durably
 * committed, so they survive `kill -9` of the server. Several clients post while the server is
 * killed mid-flight; after a restart on the same data dir, everything that was answered 200 must
 * be there exactly once and in the order each client had it acknowledged, and searches must find
 * exactly those events, whether the full-text index (its own thread, behind the commits) has
 * caught up yet or not.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { StoredEvent } from './helpers.js';
import { compareIds, isConnectionError, json, postNdjson, readAll, readPage, sleep, startServer, tempDir, waitExit } from './helpers.js';

const CLIENTS = 4;
const SESSION = 'crash-session';

interface ClientLog {
  /** Values the server acknowledged with 200, in acknowledgement order. */
  acked: string[];
  requests: number;
  refused503: number;
  /** Values of the request that was in flight when the connection broke (not acknowledged). */
  lost: string[];
}

test('every event acknowledged before kill -9 is stored exactly once, in order, after a restart', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir(t);
  const first = await startServer(t, { dataDir });
  let inFlight = 0;

  const logs: ClientLog[] = [];
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    const log: ClientLog = { acked: [], requests: 0, refused503: 0, lost: [] };
    logs.push(log);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let n = 0;
    try {
      for (;;) {
        // Batches of varying size, each value unique across the whole test.
        const size = 1 + ((n * 37 + c * 11) % 150);
        const values = Array.from({ length: size }, () => `c${c}-${n++}`);
        const lines = values.map((value) => ({ session: SESSION, key: `client-${c}`, value }));
        inFlight++;
        log.requests++;
        let res: Awaited<ReturnType<typeof postNdjson>>;
        try {
          res = await postNdjson(first.url, lines, { agent });
        } catch (err) {
          if (!isConnectionError(err)) throw err;
          log.lost = values;
          return;
        } finally {
          inFlight--;
        }
        if (res.status === 503) {
          log.refused503++;
          await sleep(20);
          continue;
        }
        assert.equal(res.status, 200, `unexpected answer ${res.status}: ${res.text}`);
        assert.equal(json(res).accepted, size);
        log.acked.push(...values);
      }
    } finally {
      agent.destroy();
    }
  });

  await sleep(1500);
  const inFlightAtKill = inFlight;
  first.kill('SIGKILL');
  const exit = await waitExit(first, 5000);
  assert.equal(exit.signal, 'SIGKILL');
  await Promise.all(clients);

  const ackedTotal = logs.reduce((s, l) => s + l.acked.length, 0);
  t.diagnostic(
    `acknowledged ${ackedTotal} events in ${logs.reduce((s, l) => s + l.requests, 0)} requests; ${inFlightAtKill} requests in flight at kill; ` +
      `503s: ${logs.reduce((s, l) => s + l.refused503, 0)}`,
  );
  assert.ok(inFlightAtKill > 0, 'the kill should hit requests in flight');
  for (const [c, l] of logs.entries()) assert.ok(l.acked.length > 0, `client ${c} got no acknowledgement in 1.5 s`);

  const second = await startServer(t, { dataDir });
  const events = await readAll(second.url, SESSION, { limit: 5000 });

  for (let i = 1; i < events.length; i++) {
    assert.ok(compareIds((events[i - 1] as StoredEvent).id, (events[i] as StoredEvent).id) < 0, `ids not increasing at ${i}`);
  }
  const count = new Map<string, number>();
  for (const e of events) count.set(String(e.value), (count.get(String(e.value)) ?? 0) + 1);
  for (const [c, l] of logs.entries()) {
    const missing = l.acked.filter((v) => !count.has(v));
    assert.deepEqual(missing.slice(0, 10), [], `client ${c}: ${missing.length} acknowledged events missing after kill -9`);
    const dup = l.acked.filter((v) => (count.get(v) ?? 0) > 1);
    assert.deepEqual(dup.slice(0, 10), [], `client ${c}: acknowledged events stored more than once`);
    const ackedSet = new Set(l.acked);
    const stored = events.filter((e) => e.key === `client-${c}` && ackedSet.has(String(e.value))).map((e) => String(e.value));
    assert.deepEqual(stored, l.acked, `client ${c}: stored order differs from acknowledgement order`);
  }
  // Searches are exact after the restart: right away (the index may still be catching up with
  // the rows committed after its last transaction before the kill: those are scanned) and once
  // the index thread reports no lag. Each value `c<k>-<n>` holds the word `c<k>`.
  const searchValues = async (q: string): Promise<string[]> => {
    const out: string[] = [];
    let cursor = '';
    for (;;) {
      const res = await fetch(`${second.url}/v1/events?${new URLSearchParams({ q, limit: '5000', ...(cursor ? { after: cursor } : {}) })}`);
      assert.equal(res.status, 200);
      const page = (await res.json()) as { events: StoredEvent[]; next: string | null };
      out.push(...page.events.map((e) => String(e.value)));
      if (!page.next) return out;
      cursor = page.next;
    }
  };
  const byClient = (c: number) => events.filter((e) => e.key === `client-${c}`).map((e) => String(e.value));
  for (let c = 0; c < CLIENTS; c++) assert.deepEqual(await searchValues(`c${c}`), byClient(c), `client ${c}: search right after the restart`);
  const until = Date.now() + 20_000;
  for (;;) {
    const health = (await (await fetch(`${second.url}/healthz`)).json()) as { searchIndexLagRows: number };
    if (health.searchIndexLagRows === 0) break;
    assert.ok(Date.now() < until, `the index still lags by ${health.searchIndexLagRows} rows 20 s after the restart`);
    await sleep(50);
  }
  for (let c = 0; c < CLIENTS; c++) assert.deepEqual(await searchValues(`c${c}`), byClient(c), `client ${c}: search once the index caught up`);

  const lostStored = logs.reduce((s, l) => s + l.lost.filter((v) => count.has(v)).length, 0);
  const lostTotal = logs.reduce((s, l) => s + l.lost.length, 0);
  t.diagnostic(`after restart: ${events.length} events stored; of ${lostTotal} unacknowledged in-flight events, ${lostStored} were stored`);

  // Ids keep increasing across the restart: a new event sorts after every earlier one.
  const lastBefore = (events.at(-1) as StoredEvent).id;
  const after = await postNdjson(second.url, [{ session: SESSION, key: 'after-restart', value: 'first event after restart' }]);
  assert.equal(after.status, 200, after.text);
  const page = await readPage(second.url, SESSION, { after: lastBefore });
  assert.equal(page.events.length, 1);
  const fresh = page.events[0] as StoredEvent;
  assert.equal(fresh.value, 'first event after restart');
  assert.equal(page.next, null);
  for (const e of events) assert.ok(compareIds(e.id, fresh.id) < 0, `id after restart ${fresh.id} is not above earlier id ${e.id}`);

  second.kill('SIGTERM');
  assert.equal((await waitExit(second, 10_000)).code, 0);
});
