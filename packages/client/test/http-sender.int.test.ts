/**
 * The HTTP sender against a scripted fake server on a real socket: batching, retries, spooling,
 * replay order and the memory bound. The real server's deduplication is tested in
 * packages/server/test/idempotency.int.test.ts and test/e2e/run-*.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { deliverLeftovers, HttpSender, type SenderNotice, Spool } from '../src/index.js';

interface Received {
  producer: string;
  seq: number;
  value: string;
}

/** Answers itself (true), lets the default answer go (false), or delays the default answer. */
type Responder = (req: http.IncomingMessage, res: http.ServerResponse, lines: Received[]) => boolean | Promise<void>;

/** A fake ingest endpoint: records every request's lines; `respond` may answer differently. */
async function fakeServer(respond?: Responder) {
  const requests: Received[][] = [];
  const stored = new Map<string, Received>(); // by producer/seq: what a deduplicating server keeps
  let sockets = 0;
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', async () => {
      const text = Buffer.concat(parts).toString('utf8');
      const lines = text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Received);
      requests.push(lines);
      const r = respond?.(req, res, lines);
      if (r === true) return;
      if (r) await r;
      let duplicates = 0;
      for (const l of lines) {
        const k = `${l.producer}/${l.seq}`;
        if (stored.has(k)) duplicates++;
        else stored.set(k, l);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted: lines.length, rejected: [], duplicates }));
    });
  });
  server.on('connection', () => sockets++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    stored,
    sockets: () => sockets,
    values: () => [...stored.values()].sort((a, b) => a.seq - b.seq).map((l) => l.value),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const dirs: string[] = [];
function spoolDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'logsrv-spool-test-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function line(i: number) {
  return { session: 's', key: 'stdout', value: `line ${i}` };
}

describe('HttpSender', { timeout: 20_000 }, () => {
  test('a line sent while idle goes out at once, alone', async () => {
    const srv = await fakeServer();
    const sender = new HttpSender({ server: srv.url, spoolDir: spoolDir() });
    const t0 = performance.now();
    sender.send(line(0));
    while (srv.stored.size === 0) await new Promise((r) => setTimeout(r, 1));
    const ms = performance.now() - t0;
    // The sender has no linger timer: an idle sender posts the line without waiting for company.
    // The bound only has to tell "sent now" from "held for a batching delay" (≥ 1 s in any design
    // worth catching), with room for a loaded CI machine.
    assert.ok(ms < 1000, `first line took ${ms.toFixed(0)} ms: held back instead of sent at once`);
    assert.deepEqual(
      srv.requests[0]?.map((l) => l.seq),
      [0],
      'the first request carries the line alone',
    );
    const report = await sender.close();
    assert.equal(report.delivered, true);
    assert.equal(report.committed, 1);
    await srv.close();
  });

  test('lines arriving during a request go together in the next one, under the batch cap, in order', async () => {
    let release: (() => void) | null = null;
    // Holds the first request until the test has queued more lines.
    const srv = await fakeServer((_req, _res, lines) => (lines[0]?.seq === 0 ? new Promise<void>((r) => (release = r)) : false));
    const sender = new HttpSender({ server: srv.url, spoolDir: spoolDir(), maxBatchBytes: 4096 });
    sender.send(line(0));
    while (!release) await new Promise((r) => setTimeout(r, 1));
    for (let i = 1; i <= 200; i++) sender.send(line(i));
    (release as () => void)();
    const report = await sender.close();
    assert.equal(report.committed, 201);
    assert.equal(srv.requests[0]?.length, 1);
    // 200 lines of ~90 bytes under a 4 KiB cap: a handful of full requests, not 200.
    assert.ok(srv.requests.length <= 10, `${srv.requests.length} requests`);
    for (const r of srv.requests.slice(1, -1)) assert.ok(r.length > 20);
    assert.deepEqual(
      srv.requests.flat().map((l) => l.seq),
      Array.from({ length: 201 }, (_, i) => i),
    );
    assert.equal(srv.sockets(), 1, 'one keep-alive connection');
    await srv.close();
  });

  test('heldFromSeq stays at the first event not yet acknowledged, in memory and through the spool', async () => {
    /** `n` events stamped for sendStamped, as logsrv run writes them. */
    const stamped = (sender: HttpSender, n: number) =>
      Buffer.from(
        Array.from(
          { length: n },
          (_, i) => `{"session":"s","key":"stdout","value":"v","producer":${sender.producerJsonText},"seq":${sender.nextSeq + i}}\n`,
        ).join(''),
      );
    const gates: (() => void)[] = [];
    const srv = await fakeServer(() => new Promise<void>((r) => gates.push(r)));
    const sender = new HttpSender({ server: srv.url, spoolDir: spoolDir() });
    sender.sendStamped(stamped(sender, 2), 2);
    while (gates.length === 0) await new Promise((r) => setTimeout(r, 1));
    sender.sendStamped(stamped(sender, 3), 3);
    assert.equal(sender.heldFromSeq, 0, 'the first request is in flight');
    gates.shift()?.();
    while (gates.length === 0) await new Promise((r) => setTimeout(r, 1));
    assert.equal(sender.heldFromSeq, 2, 'acknowledged: seqs 0-1 are let go; 2-4 in flight');
    gates.shift()?.();
    while (sender.acknowledged < 2) await new Promise((r) => setTimeout(r, 1));
    assert.equal(sender.heldFromSeq, 5);
    await srv.close();

    // Server gone: from the failed attempt on, everything goes through the spool; what was held
    // then stays held until the spool is delivered (its appends are kept for a turn, and the
    // batch moved into it is retried from its own buffers).
    sender.sendStamped(stamped(sender, 4), 4);
    while (!sender.unreachable) await new Promise((r) => setTimeout(r, 5));
    sender.sendStamped(stamped(sender, 1), 1);
    assert.equal(sender.heldFromSeq, 5);
    const report = await sender.close(0);
    assert.equal(report.delivered, false);
    assert.equal(report.committed, 5);
  });

  test('503 with Retry-After is retried after the given delay; nothing lost or doubled', async () => {
    let failures = 2;
    const srv = await fakeServer((_req, res) => {
      if (failures-- > 0) {
        res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end('{"error":{"code":"LOGSRV_ERR_QUEUE_FULL","message":"ingest queue is full"}}');
        return true;
      }
      return false;
    });
    const notices: SenderNotice[] = [];
    const sender = new HttpSender({ server: srv.url, spoolDir: spoolDir(), onNotice: (n) => notices.push(n) });
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) sender.send(line(i));
    const report = await sender.close(10_000);
    assert.ok(Date.now() - t0 >= 1900, 'waited Retry-After twice');
    assert.equal(report.delivered, true);
    assert.deepEqual(
      srv.values(),
      Array.from({ length: 50 }, (_, i) => `line ${i}`),
    );
    assert.deepEqual(
      notices.map((n) => n.kind),
      ['unreachable', 'reconnected'],
    );
    await srv.close();
  });

  test('a lost response is retried and the server sees the same (producer, seq) again', async () => {
    let drop = true;
    const srv = await fakeServer((req) => {
      if (drop) {
        drop = false;
        req.socket.destroy(); // as if the server committed and the response was lost
        return true;
      }
      return false;
    });
    const sender = new HttpSender({ server: srv.url, spoolDir: spoolDir(), retryMinMs: 10 });
    for (let i = 0; i < 5; i++) sender.send(line(i));
    const report = await sender.close();
    assert.equal(report.delivered, true);
    assert.equal(srv.requests.length, 2);
    assert.deepEqual(srv.requests[0], srv.requests[1], 'the retry is byte-for-byte the same batch');
    await srv.close();
  });

  test('server down: lines go to the spool file, close reports it, a later delivery replays it in order', async () => {
    const dir = spoolDir();
    const notices: SenderNotice[] = [];
    const sender = new HttpSender({ server: 'http://127.0.0.1:1', spoolDir: dir, session: 's', retryMinMs: 10, onNotice: (n) => notices.push(n) });
    for (let i = 0; i < 1000; i++) sender.send(line(i));
    const report = await sender.close(300);
    assert.equal(report.delivered, false);
    assert.ok(report.spoolFile && existsSync(report.spoolFile), 'spool file kept');
    assert.equal(notices[0]?.kind, 'unreachable');
    const spooled = readFileSync(report.spoolFile as string, 'utf8')
      .trim()
      .split('\n');
    assert.equal(spooled.length, 1000);
    assert.equal(JSON.parse(spooled[999] as string).seq, 999);

    // Another process (here: a delivery object) replays it to a server for the same URL... which
    // is a different URL here, so it is left alone unless asked.
    const srv = await fakeServer();
    const skipped = await deliverLeftovers({ server: srv.url, spoolDir: dir }).done;
    assert.equal(skipped.delivered.length, 0);
    assert.equal(skipped.otherServers.length, 1);
    const done = await deliverLeftovers({ server: srv.url, spoolDir: dir, anyServer: true }).done;
    assert.equal(done.delivered.length, 1);
    assert.equal(done.delivered[0]?.session, 's');
    assert.deepEqual(
      srv.values(),
      Array.from({ length: 1000 }, (_, i) => `line ${i}`),
    );
    assert.deepEqual(readdirSync(dir), [], 'a delivered spool is deleted');
    await srv.close();
  });

  test('the server goes away and comes back mid-stream: every line arrives once, in order', async () => {
    let down = false;
    const srv = await fakeServer((req) => {
      if (down) {
        req.socket.destroy();
        return true;
      }
      return false;
    });
    const dir = spoolDir();
    const sender = new HttpSender({ server: srv.url, spoolDir: dir, retryMinMs: 5, retryMaxMs: 50 });
    let i = 0;
    const pump = async (n: number) => {
      for (const end = i + n; i < end; i++) {
        sender.send(line(i));
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    };
    await pump(500);
    down = true;
    await pump(500);
    // Polled, not a fixed wait: a loaded machine may take longer to see the refusals.
    const spools = () => readdirSync(dir).filter((f) => f.endsWith('.ndjson')).length;
    for (const end = Date.now() + 10_000; spools() === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    assert.equal(spools(), 1, 'spooling while down');
    down = false;
    await pump(500);
    const report = await sender.close(5000);
    assert.equal(report.delivered, true);
    assert.deepEqual(
      srv.values(),
      Array.from({ length: 1500 }, (_, k) => `line ${k}`),
    );
    // Each batch was posted in seq order, never a later seq before an earlier one was acknowledged.
    let highest = -1;
    for (const r of srv.requests) {
      for (const l of r) {
        assert.ok(l.seq <= highest + 1, `seq ${l.seq} sent before ${highest + 1} was acknowledged`);
        highest = Math.max(highest, l.seq);
      }
    }
    assert.deepEqual(readdirSync(dir), [], 'the spool is deleted once delivered');
    await srv.close();
  });

  test('memory stays bounded: past maxBufferBytes, lines go through the spool, still in order', async () => {
    let release: (() => void) | null = null;
    const srv = await fakeServer((_req, _res, lines) => (lines[0]?.seq === 0 ? new Promise<void>((r) => (release = r)) : false));
    const dir = spoolDir();
    const notices: SenderNotice[] = [];
    const sender = new HttpSender({ server: srv.url, spoolDir: dir, maxBufferBytes: 64 * 1024, onNotice: (n) => notices.push(n) });
    sender.send(line(0));
    while (!release) await new Promise((r) => setTimeout(r, 1));
    for (let i = 1; i < 20_000; i++) sender.send(line(i));
    assert.ok(
      readdirSync(dir).some((f) => f.endsWith('.ndjson')),
      'spool in use',
    );
    assert.deepEqual(
      notices.map((n) => n.kind),
      ['buffer-full'],
    );
    (release as () => void)();
    const report = await sender.close(5000);
    assert.equal(report.delivered, true);
    assert.equal(srv.stored.size, 20_000);
    assert.deepEqual(srv.values().slice(0, 3), ['line 0', 'line 1', 'line 2']);
    assert.equal(srv.values()[19_999], 'line 19999');
    await srv.close();
  });

  test('401 stops sending and keeps everything in the spool', async () => {
    const srv = await fakeServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"LOGSRV_ERR_UNAUTHORIZED","message":"missing token"}}');
      return true;
    });
    const sender = new HttpSender({ server: srv.url, spoolDir: spoolDir() });
    for (let i = 0; i < 10; i++) sender.send(line(i));
    const report = await sender.close(2000);
    assert.equal(report.delivered, false);
    assert.match(report.refused ?? '', /401 missing token/);
    assert.equal(
      readFileSync(report.spoolFile as string, 'utf8')
        .trim()
        .split('\n').length,
      10,
    );
    assert.equal(srv.requests.length, 1, 'no retry after a refusal');
    await srv.close();
  });

  test('a spool locked by a live process is not delivered by another', async () => {
    const dir = spoolDir();
    const s = Spool.create(dir, 'held', { server: 'http://127.0.0.1:1', created: new Date().toISOString() });
    s.append('{"session":"s","key":"k","value":"v"}\n');
    s.flushWrites();
    // Held (by this process): nobody else may deliver it meanwhile.
    assert.equal(Spool.adopt(dir, 'held'), null);
    s.release();
    const again = Spool.adopt(dir, 'held');
    assert.ok(again);
    assert.equal(again.read(1024)?.count, 1);
    again.remove();
  });
});
