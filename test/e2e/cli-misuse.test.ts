/**
 * The CLI when something is wrong around it: nothing listening, a wrong --server, a session that
 * does not exist, a refused token. Each case says what is wrong in words and does not hang.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { test } from 'node:test';
import { BIN, childEnv, ROOT, readAll, runCli, sleep, startServer, tempDir } from './helpers.js';
import { startAgent } from './run-helpers.js';

function closedPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

test('logsrv send and run with nothing listening exit at once, not after --flush-timeout-ms, and keep the output', { timeout: 60_000 }, async (t) => {
  const server = `http://127.0.0.1:${await closedPort()}`;
  const spool = tempDir(t);
  const env = { LOGSRV_SERVER: server, LOGSRV_SPOOL: spool, LOGSRV_FLUSH_TIMEOUT_MS: '20000' };
  for (const args of [
    ['send', '--session', 'nobody-home'],
    ['run', '--session', 'nobody-home', '--', process.execPath, '-e', 'console.log("hi")'],
  ]) {
    const started = performance.now();
    const r = await startAgent(t, args, { env, stdin: args[0] === 'send' ? 'one\ntwo\n' : undefined, timeoutMs: 30_000 }).done;
    const ms = r.exitedAt - started;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(ms < 10_000, `${args[0]} took ${Math.round(ms)} ms with a 20 s flush timeout; stderr:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`the server at ${server} could not be reached: \\d+ events? .* wait in `));
  }
});

test('the refused-token message is said once, and its advice carries --token', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir(t);
  const made = await runCli(['token', 'create', '--scope', 'admin', '--data', dataDir]);
  assert.equal(made.code, 0, made.stderr);
  const srv = await startServer(t, { dataDir });
  const spool = tempDir(t);
  const env = { LOGSRV_SERVER: srv.url, LOGSRV_SPOOL: spool, LOGSRV_TOKEN: 'lsv_0000_wrong' };
  // The first run leaves a spool; the second meets the refusal twice (its own output and the
  // leftover delivery of the first) and must still say it once.
  await startAgent(t, ['send', '--session', 'refused'], { env, stdin: 'a\n' }).done;
  const r = await startAgent(t, ['run', '--session', 'refused', '--', process.execPath, '-e', 'console.log("b")'], { env }).done;
  // `\b401\b`: the status, not a port such as 40115 in the server's address.
  const reasons = r.stderr.split('\n').filter((l) => /invalid token|unknown token|revoked|\b401\b/.test(l));
  assert.equal(reasons.length, 1, `the refusal's reason once:\n${r.stderr}`);
  assert.match(r.stderr, /refused the token: \d+ events? .* logsrv flush --server \S+ --token TOKEN/);
  const leftovers = await runCli(['flush', '--server', srv.url, '--spool', spool], { env: { LOGSRV_TOKEN: '' } });
  assert.notEqual(leftovers.code, 0, 'without a token the spool stays');
});

test('logsrv tail: a closed port, something that is not logsrv, and a session that does not exist yet', { timeout: 60_000 }, async (t) => {
  const closed = await runCli(['tail', 's', '--server', `http://127.0.0.1:${await closedPort()}`], { timeoutMs: 15_000 });
  assert.equal(closed.code, 1, closed.stderr);
  assert.match(closed.stderr, /cannot reach a logsrv server at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED.*--server or LOGSRV_SERVER/);

  // A web server that answers every path with a page (200, HTML).
  const web = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  t.after(() => web.close());
  const page = await runCli(['tail', 's', '--server', `http://127.0.0.1:${(web.address() as AddressInfo).port}`], { timeoutMs: 15_000 });
  assert.equal(page.code, 1, page.stderr);
  assert.match(page.stderr, /is not a logsrv server .*answered 200 text\/html/);
  assert.equal(page.stderr.split('\n').filter(Boolean).length, 1, page.stderr);

  // Something that accepts connections and never answers.
  const mute = net.createServer(() => {});
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.after(() => mute.close());
  const silent = await runCli(['tail', 's', '--server', `http://127.0.0.1:${(mute.address() as AddressInfo).port}`], { timeoutMs: 30_000 });
  assert.equal(silent.code, 1, silent.stderr);
  assert.match(silent.stderr, /cannot reach a logsrv server .*no answer .* within 10000 ms/);

  // A session that does not exist: said once, then the tail waits; `logsrv send` into it ends it.
  const srv = await startServer(t);
  const tail = spawn(process.execPath, [BIN, 'tail', 'later', '--server', srv.url], { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => tail.kill('SIGKILL'));
  let out = '';
  let err = '';
  tail.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  tail.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((r) => tail.on('exit', (c) => r(c)));
  for (let i = 0; i < 200 && !/has no events yet/.test(err); i++) await sleep(50);
  assert.match(err, /^logsrv tail: session later has no events yet; waiting for it to start/);
  const sent = await startAgent(t, ['send', '--session', 'later', '--no-tee'], { env: { LOGSRV_SERVER: srv.url, LOGSRV_SPOOL: tempDir(t) }, stdin: 'x\ny\n' })
    .done;
  assert.equal(sent.code, 0, sent.stderr);
  const code = await Promise.race([exited, sleep(15_000).then(() => 'still running')]);
  assert.equal(code, 0, `the tail ends with the send's session; stderr:\n${err}`);
  assert.equal(out, 'x\ny\n');
  const stored = await readAll(srv.url, 'later');
  assert.deepEqual(
    stored.map((e) => [e.key, e.value]),
    [
      ['stdout', 'x'],
      ['stdout', 'y'],
      ['session.end', { reason: 'end of input' }],
    ],
  );
});
