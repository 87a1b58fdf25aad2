/**
 * Issue 4, "must show": `logsrv run` never loses output. The server is killed (kill -9) and
 * restarted mid-run: every line is stored exactly once, in order. Responses lost after commit
 * (a proxy that drops them): retried batches are not stored twice. Server down at exit: the
 * spool is reported, then delivered by `logsrv flush` or by the next run.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { test } from 'node:test';
import type { StoredEvent } from './helpers.js';
import { readAll, request, sleep, startServer, tempDir } from './helpers.js';
import { joinedLines, nodeScript, runAgent, startAgent } from './run-helpers.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Prints `n <i>` every `everyMs` ms, `count` lines. */
function ticker(count: number, everyMs: number): string[] {
  return nodeScript(`let i = 0; const t = setInterval(() => { console.log('n ' + i++); if (i === ${count}) clearInterval(t); }, ${everyMs})`);
}

function expectTicks(events: StoredEvent[], count: number): void {
  const lines = joinedLines(events, 'stdout');
  const dupes = lines.length - new Set(lines).size;
  assert.equal(dupes, 0, `${dupes} duplicated lines`);
  assert.deepEqual(
    lines,
    Array.from({ length: count }, (_, i) => `n ${i}`),
  );
}

test('server killed with -9 and restarted mid-run: every line stored exactly once, in order', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir(t);
  const spool = tempDir(t);
  const first = await startServer(t, { dataDir });
  const port = new URL(first.url).port;
  const COUNT = 400;
  // A long flush timeout: on a loaded machine the restart may take longer than the command.
  const run = startAgent(t, ['run', '--session', 'crash', '--flush-timeout-ms', '30000', '--', ...ticker(COUNT, 7)], {
    env: { LOGSRV_SERVER: first.url, LOGSRV_SPOOL: spool },
    timeoutMs: 50_000,
  });
  // Let some lines through, then kill the server while lines keep coming.
  for (let i = 0; i < 100 && (await readAll(first.url, 'crash')).length < 50; i++) await sleep(20);
  first.kill('SIGKILL');
  await first.exited;
  // Polled (a loaded machine may take longer than a fixed wait to see the server gone).
  const spools = () => readdirSync(spool).filter((f) => f.endsWith('.ndjson')).length;
  for (let i = 0; i < 200 && spools() === 0; i++) await sleep(50);
  assert.equal(spools(), 1, 'spooling while the server is down');
  const second = await startServer(t, { dataDir, bare: true, args: ['--http', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn'] });
  const r = await run.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /cannot deliver to http:\/\/127\.0\.0\.1:\d+ .*retrying/);
  assert.match(r.stderr, /reachable again/);
  expectTicks(await readAll(second.url, 'crash'), COUNT);
  assert.deepEqual(readdirSync(spool), [], 'spool delivered and removed');
});

test('responses lost after commit: the agent retries and nothing is stored twice', { timeout: 60_000 }, async (t) => {
  const server = await startServer(t);
  const spool = tempDir(t);
  const target = new URL(server.url);
  // Forwards every request; of every third, the server's answer is thrown away and the
  // connection cut — the events are committed, but the agent cannot know.
  let n = 0;
  let dropped = 0;
  const proxy = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const drop = req.url === '/v1/events' && n++ % 3 === 1;
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (ures) => {
        const body: Buffer[] = [];
        ures.on('data', (b: Buffer) => body.push(b));
        ures.on('end', () => {
          if (drop) {
            dropped++;
            req.socket.destroy();
            return;
          }
          res.writeHead(ures.statusCode ?? 502, ures.headers);
          res.end(Buffer.concat(body));
        });
      });
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(parts));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => {
    proxy.closeAllConnections();
    proxy.close();
  });
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const COUNT = 300;
  const r = await runAgent(t, proxyUrl, spool, ['--session', 'lost-acks', '--', ...ticker(COUNT, 3)]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(dropped >= 3, `only ${dropped} responses dropped`);
  expectTicks(await readAll(server.url, 'lost-acks'), COUNT);
  const metrics = (await request(`${server.url}/metrics`)).text;
  const dup = Number(/logsrv_duplicates_total\{transport="http"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  assert.ok(dup > 0, 'the server saw the resent batches and skipped them');
});

test('server down at exit: the spool is reported, and logsrv flush delivers it once the server is back', { timeout: 60_000 }, async (t) => {
  const spool = tempDir(t);
  const dataDir = tempDir(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const r = await runAgent(t, url, spool, [
    '--session',
    'offline',
    '--flush-timeout-ms',
    '300',
    '--',
    ...nodeScript('console.log("a"); console.log("b"); process.exit(4)'),
  ]);
  assert.equal(r.code, 4, 'the exit code is the command’s, delivered or not');
  assert.equal(r.stdout.toString(), 'a\nb\n');
  assert.match(r.stderr, /4 events \(\d+ KiB\) wait in .*\.ndjson/);
  assert.match(r.stderr, /logsrv flush --server/);

  const nothing = await startAgent(t, ['flush'], { env: { LOGSRV_SERVER: url, LOGSRV_SPOOL: spool, LOGSRV_FLUSH_TIMEOUT_MS: '300' } }).done;
  assert.equal(nothing.code, 1, 'still down: flush fails and keeps the spool');
  assert.match(nothing.stderr, /could not deliver .* it is kept/);

  const server = await startServer(t, { dataDir, bare: true, args: ['--http', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn'] });
  const f = await startAgent(t, ['flush'], { env: { LOGSRV_SERVER: url, LOGSRV_SPOOL: spool } }).done;
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stderr, /delivered 4 event\(s\) of session offline/);
  const events = await readAll(server.url, 'offline');
  assert.deepEqual(
    events.map((e) => [e.key, typeof e.value === 'string' ? e.value : (e.value as { code?: number }).code]),
    [
      ['step.start', undefined],
      ['stdout', 'a'],
      ['stdout', 'b'],
      ['step.exit', 4],
    ],
  );
  assert.deepEqual(readdirSync(spool), []);
});

test('the next logsrv run delivers what an earlier run left in the spool', { timeout: 60_000 }, async (t) => {
  const spool = tempDir(t);
  const dataDir = tempDir(t);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const first = await runAgent(t, url, spool, ['--session', 'left-behind', '--flush-timeout-ms', '300', '--', 'echo', 'from the first run']);
  assert.equal(first.code, 0);
  assert.equal(readdirSync(spool).filter((f) => f.endsWith('.ndjson')).length, 1);
  const server = await startServer(t, { dataDir, bare: true, args: ['--http', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn'] });
  const second = await runAgent(t, url, spool, ['--session', 'next-run', '--', 'echo', 'from the second run']);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /delivered 3 spooled events left by an earlier run \(session left-behind\)/);
  assert.deepEqual(joinedLines(await readAll(server.url, 'left-behind'), 'stdout'), ['from the first run']);
  assert.deepEqual(joinedLines(await readAll(server.url, 'next-run'), 'stdout'), ['from the second run']);
  assert.deepEqual(readdirSync(spool), []);
});
