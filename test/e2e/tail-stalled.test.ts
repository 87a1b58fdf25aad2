/**
 * Tails that stop reading: history replay is bounded and paced like live delivery. Fifty tails
 * replaying a 200k-event session into sockets that never read neither stall ingest (its latency
 * is measured against idle in the same run) nor grow the server's memory without bound, and are
 * disconnected as lagged. And what a stalled live client sees: the stream ends without `lagged`
 * when it never reads again, and resuming from the last id it did receive loses nothing.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { ServerProcess } from './helpers.js';
import { json, MiB, postNdjson, readAll, request, rssBytes, sleep, startServer } from './helpers.js';

const TAILS = 50;
const EVENTS = 200_000;

async function post(server: ServerProcess, events: object[]): Promise<number> {
  const t0 = performance.now();
  const r = await postNdjson(server.url, events);
  assert.equal(r.status, 200, r.text);
  return performance.now() - t0;
}

async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = (await request(`${server.url}/metrics`)).text;
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

/** Latencies of one-event POSTs, one every `gapMs`, for `ms`. */
async function probe(server: ServerProcess, ms: number, gapMs = 25): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    out.push(await post(server, [{ session: 'probe', key: 'k', value: i }]));
    await sleep(gapMs);
  }
  return out.sort((a, b) => a - b);
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;

/** A raw connection that asks for a tail and never reads a byte of the answer. */
function stalledTail(url: string, path: string): net.Socket {
  const { hostname, port } = new URL(url);
  const s = net.connect(Number(port), hostname, () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`));
  s.pause();
  s.on('error', () => {});
  return s;
}

test('50 tails replaying a 200k-event session into sockets that never read: ingest keeps its latency, memory stays bounded, all are lagged', {
  timeout: 180_000,
}, async (t) => {
  const server = await startServer(t, { args: ['--tail-heartbeat-ms', '500', '--udp', 'off'] });
  const line = 'r'.repeat(120);
  for (let b = 0; b < EVENTS / 10_000; b++) {
    await post(
      server,
      Array.from({ length: 10_000 }, (_, i) => ({ session: 'replay', key: 'stdout', value: `${b}:${i} ${line}` })),
    );
  }
  const idle = await probe(server, 3000);
  const rssBefore = rssBytes(server.pid);

  const sockets = Array.from({ length: TAILS }, () => stalledTail(server.url, '/v1/sessions/replay/tail'));
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  const busy = await probe(server, 5000);
  let rssPeak = rssBytes(server.pid);

  // Two heartbeat intervals without progress: every one of them is told `lagged` and closed.
  let lagged = 0;
  for (let i = 0; i < 200 && lagged < TAILS; i++) {
    await sleep(100);
    lagged = await metric(server, 'logsrv_tail_lagged_total');
    rssPeak = Math.max(rssPeak, rssBytes(server.pid));
  }
  let open = Number.NaN;
  for (let i = 0; i < 100; i++) {
    open = await metric(server, 'logsrv_tail_clients');
    if (open === 0) break;
    await sleep(100);
  }
  const rssAfter = rssBytes(server.pid);
  t.diagnostic(
    `POST latency idle p50 ${pct(idle, 0.5).toFixed(1)} ms, max ${pct(idle, 1).toFixed(1)} ms; ` +
      `with ${TAILS} stalled replaying tails p50 ${pct(busy, 0.5).toFixed(1)} ms, p95 ${pct(busy, 0.95).toFixed(1)} ms, max ${pct(busy, 1).toFixed(1)} ms (${busy.length} requests); ` +
      `RSS ${(rssBefore / MiB).toFixed(0)} → peak ${(rssPeak / MiB).toFixed(0)} → ${(rssAfter / MiB).toFixed(0)} MiB; lagged ${lagged}, open tails after ${open}`,
  );
  assert.equal(lagged, TAILS, 'every stalled replaying tail was disconnected as lagged');
  assert.equal(open, 0, 'their connections are gone');
  // Generous bounds for a shared 2-core machine; before pacing one request waited 3.7 s and
  // RSS reached 630 MB.
  assert.ok(pct(busy, 0.5) < pct(idle, 0.5) + 100, `median POST latency during replay ${pct(busy, 0.5).toFixed(1)} ms vs idle ${pct(idle, 0.5).toFixed(1)} ms`);
  assert.ok(pct(busy, 1) < 1500, `slowest POST during replay ${pct(busy, 1).toFixed(0)} ms`);
  assert.ok(rssPeak - rssBefore < 256 * MiB, `RSS grew by ${((rssPeak - rssBefore) / MiB).toFixed(0)} MiB`);
});

test('a live tail that stops reading for good: cut off after two heartbeats, its stream ends without lagged, and resuming from its last id loses nothing', {
  timeout: 60_000,
}, async (t) => {
  const server = await startServer(t, { args: ['--tail-heartbeat-ms', '300', '--tail-client-buffer-bytes', String(64 * 1024), '--udp', 'off'] });
  const { hostname, port } = new URL(server.url);
  const sock = net.connect(Number(port), hostname, () => sock.write(`GET /v1/sessions/stall/tail?from=now HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`));
  t.after(() => sock.destroy());
  let text = '';
  sock.setEncoding('utf8').on('data', (s: string) => (text += s));
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  await post(server, [{ session: 'stall', key: 'stdout', value: 'first' }]);
  for (let i = 0; i < 100 && !text.includes('"first"'); i++) await sleep(50);
  assert.match(text, /"value":"first"/);
  sock.pause();
  const big = 'x'.repeat(16 * 1024);
  for (let b = 0; b < 40; b++)
    await post(
      server,
      Array.from({ length: 100 }, (_, i) => ({ session: 'stall', key: 'stdout', value: `${b}:${i}:${big}` })),
    );
  await post(server, [{ session: 'stall', key: 'session.end', value: 0 }]);
  // The server gives up on it and frees the connection while it still reads nothing.
  let open = Number.NaN;
  for (let i = 0; i < 150; i++) {
    open = await metric(server, 'logsrv_tail_clients');
    if (open === 0) break;
    await sleep(100);
  }
  assert.equal(open, 0, 'the stalled client was disconnected');
  assert.equal(await metric(server, 'logsrv_tail_lagged_total'), 1);

  // What the client sees when it reads again: what its socket held, then the end of the stream.
  sock.resume();
  await ended;
  const blocks = text.split('\n\n');
  const complete = blocks.slice(0, -1);
  const events = complete.filter((b) => b.includes('event: event'));
  assert.ok(!complete.some((b) => b.includes('event: lagged')), 'the lagged frame could not reach a client that never read');
  const ids = events.map((b) => /^id: (\S+)$/m.exec(b)?.[1] as string);
  const stored = await readAll(server.url, 'stall');
  assert.ok(ids.length < stored.length, 'cut off before the end');
  assert.deepEqual(
    ids,
    stored.slice(0, ids.length).map((e) => e.id),
    'what arrived is a gapless prefix',
  );
  // Resuming from the last id it received gives exactly the rest.
  const rest = await request(`${server.url}/v1/sessions/stall/events?after=${ids.at(-1)}&limit=10000`);
  assert.deepEqual(
    json<{ events: { id: string }[] }>(rest).events.map((e) => e.id),
    stored.slice(ids.length).map((e) => e.id),
  );
});
