/**
 * The event client against the real server in this process (SQLite in a temp dir, UDP and HTTP on
 * port 0): what it sends is stored, the oversized event arrives over HTTP, and at a moderate rate
 * every event is accounted for — client sent = server stored + server counted drops.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { RunningServer } from '@logsrv/server';
import { createToken, loadConfig, startServer } from '@logsrv/server';
import { createClient } from '../src/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withServer(flags: Record<string, unknown>, body: (srv: RunningServer & { udpPort: number }) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-sdk-test-'));
  const srv = await startServer(loadConfig({ http: '127.0.0.1:0', udp: '127.0.0.1:0', dataDir, logLevel: 'silent', ...flags }));
  try {
    assert.equal(typeof srv.udpPort, 'number');
    await body(srv as RunningServer & { udpPort: number });
  } finally {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function readSession(url: string, session: string): Promise<any[]> {
  const events: any[] = [];
  let after = '';
  for (;;) {
    const res = await fetch(`${url}/v1/sessions/${encodeURIComponent(session)}/events?limit=1000&after=${after}`);
    assert.equal(res.status, 200);
    const page = (await res.json()) as { events: any[]; next: string | null };
    events.push(...page.events);
    if (!page.next) return events;
    after = page.next;
  }
}

/** UDP and HTTP counters from /metrics, keyed `name` or `name:reason`. */
async function udpCounters(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(logsrv_(?:received|accepted|dropped)_total)\{transport="udp"(?:,reason="([a-z0-9_]+)")?\} (\d+)/gm)) {
    out[m[2] ? `${m[1]}:${m[2]}` : (m[1] as string)] = Number(m[3]);
  }
  return out;
}

async function eventually<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms, last ${JSON.stringify(v)}`);
    await sleep(25);
  }
}

describe('event client with the real server', () => {
  test('events sent over UDP are stored, in order, with their fields', async () => {
    await withServer({}, async (srv) => {
      const client = createClient({ url: srv.url, udpPort: srv.udpPort, defaults: { session: 'sdk-udp', component: 'checkout' } });
      try {
        for (let i = 0; i < 300; i++) client.event({ key: 'step', value: { i }, level: i % 2 ? 'info' : 'debug' });
        client.event({ key: 'api.latency', value: 12.5, ts: new Date('2026-01-02T03:04:05.678Z'), attrs: { route: '/pay' } });
        assert.equal(await client.flush(), true);
        const events = await eventually(
          'stored',
          () => readSession(srv.url, 'sdk-udp'),
          (e) => e.length >= 301,
        );
        assert.equal(events.length, 301);
        assert.deepEqual(
          events.slice(0, 300).map((e) => e.value.i),
          Array.from({ length: 300 }, (_, i) => i),
        );
        const last = events[300];
        assert.equal(last.component, 'checkout');
        assert.equal(last.value, 12.5);
        assert.equal(last.ts, '2026-01-02T03:04:05.678Z');
        assert.deepEqual(last.attrs, { route: '/pay' });
        assert.equal(client.stats().sent, 301);
      } finally {
        await client.close();
      }
    });
  });

  test('events sent over HTTP are stored once the flush resolves; a server rejection is a counted drop', async () => {
    await withServer({ maxLineBytes: 4096 }, async (srv) => {
      const client = createClient({ url: srv.url, transport: 'http' });
      try {
        for (let i = 0; i < 500; i++) client.event({ session: 'sdk-http', key: 'stdout', value: `line ${i}` });
        // Valid for the client (under its 1 MiB maxEventBytes) but over this server's --max-line-bytes.
        client.event({ session: 'sdk-http', key: 'stdout', value: 'y'.repeat(8000) });
        assert.equal(await client.flush(), true);
        // HTTP answers after commit: everything acknowledged is readable now.
        const events = await readSession(srv.url, 'sdk-http');
        assert.deepEqual(
          events.map((e) => e.value),
          Array.from({ length: 500 }, (_, i) => `line ${i}`),
        );
        const s = client.stats();
        assert.equal(s.sent, 500);
        assert.equal(s.dropped.rejected, 1);
      } finally {
        await client.close();
      }
    });
  });

  test('over UDP, an event too large for a datagram falls back to HTTP and is stored', async () => {
    await withServer({}, async (srv) => {
      const client = createClient({ url: srv.url, udpPort: srv.udpPort, maxDatagramBytes: 1024 });
      try {
        const big = 'z'.repeat(50_000);
        client.event({ session: 'sdk-fb', key: 'small', value: 1 });
        client.event({ session: 'sdk-fb', key: 'big', value: big });
        client.event({ session: 'sdk-fb', key: 'small', value: 2 });
        assert.equal(await client.flush(), true);
        const events = await eventually(
          'stored',
          () => readSession(srv.url, 'sdk-fb'),
          (e) => e.length >= 3,
        );
        assert.equal(events.find((e) => e.key === 'big')?.value, big);
        const s = client.stats();
        assert.equal(s.httpFallback, 1);
        assert.equal(s.sent, 3);
        const c = await udpCounters(srv.url);
        assert.equal(c.logsrv_accepted_total, 2, 'the small ones came over UDP');
      } finally {
        await client.close();
      }
    });
  });

  test('with auth on, the event too large for a datagram falls back to HTTP with the token and is stored', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-sdk-auth-'));
    const { token } = createToken(dataDir, { scopes: ['ingest', 'read'] });
    const srv = await startServer(loadConfig({ http: '127.0.0.1:0', udp: '127.0.0.1:0', dataDir, logLevel: 'silent' }));
    const client = createClient({ url: srv.url, udpPort: srv.udpPort as number, maxDatagramBytes: 1024, token });
    try {
      assert.equal(srv.authEnabled, true);
      const big = 'q'.repeat(20_000);
      client.event({ session: 'sdk-auth-fb', key: 'big', value: big });
      assert.equal(await client.flush(), true);
      const s = client.stats();
      assert.deepEqual(s.dropped, {}, JSON.stringify(s));
      assert.equal(s.httpFallback, 1);
      const res = await fetch(`${srv.url}/v1/sessions/sdk-auth-fb/events`, { headers: { authorization: `Bearer ${token}` } });
      const page = (await res.json()) as { events: { value: unknown }[] };
      assert.equal(page.events[0]?.value, big);
    } finally {
      await client.close();
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('loss accounting at a moderate rate: client sent = server stored + server counted drops', async () => {
    await withServer({}, async (srv) => {
      const client = createClient({ url: srv.url, udpPort: srv.udpPort });
      const n = 20_000;
      try {
        // Bursts of 100 with a pause: the server shares this event loop, and the pause is when
        // its socket is read. ~20-40k events/s.
        for (let i = 0; i < n; i += 100) {
          for (let j = i; j < i + 100; j++) client.event({ session: `acct${j % 5}`, key: 'tick', value: j });
          await sleep(2);
        }
        assert.equal(await client.flush(), true);
        const s = client.stats();
        assert.equal(s.events, n);
        assert.equal(s.droppedTotal, 0, JSON.stringify(s));
        assert.equal(s.sent, n);
        const c = await eventually(
          'accounted',
          () => udpCounters(srv.url),
          (c) =>
            (c.logsrv_accepted_total ?? 0) +
              Object.entries(c)
                .filter(([k]) => k.startsWith('logsrv_dropped_total'))
                .reduce((a, [, v]) => a + v, 0) ===
            n,
        );
        const stored = c.logsrv_accepted_total ?? 0;
        let read = 0;
        for (let k = 0; k < 5; k++) read += (await readSession(srv.url, `acct${k}`)).length;
        assert.equal(read, stored);
        // Nothing unaccounted; at this rate on loopback nothing is even dropped.
        assert.equal(stored, n, JSON.stringify(c));
      } finally {
        await client.close();
      }
    });
  });
});
