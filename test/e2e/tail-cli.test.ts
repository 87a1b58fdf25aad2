/**
 * `logsrv tail` against the real program (SPEC §3, §4): it prints what the terminal would have
 * shown, exits 0 when the session ends, and follows across a server restart — a kill -9 right
 * after a commit included — with no duplicate and no gap against the stored sequence.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import type { StoredEvent } from './helpers.js';
import { BIN, childEnv, json, postNdjson, ROOT, readAll, runCli, sleep, startServer, tempDir, waitExit } from './helpers.js';

interface TailProc {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnTail(args: string[], env: Record<string, string> = {}): TailProc {
  const proc = spawn(process.execPath, [BIN, 'tail', ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

async function until(what: string, ms: number, cond: () => boolean, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${detail()}`);
    await sleep(25);
  }
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

async function send(base: string, events: object[]): Promise<void> {
  const r = await postNdjson(base, events);
  assert.equal(r.status, 200, r.text);
  assert.equal(json<{ accepted: number }>(r).accepted, events.length);
}

const lines = (session: string, from: number, n: number, key = 'stdout') => Array.from({ length: n }, (_, i) => ({ session, key, value: `line ${from + i}` }));

test('logsrv tail --json follows a session across kill -9 and restart of the server, then exits 0 on end', { timeout: 90_000 }, async (t) => {
  const dataDir = tempDir(t);
  const port = await freePort();
  const args = ['--http', `127.0.0.1:${port}`];
  let server = await startServer(t, { dataDir, args });
  const session = 'restart-session';
  await send(server.url, lines(session, 0, 50));

  const tail = spawnTail([session, '--json', '--server', server.url]);
  t.after(() => {
    if (tail.proc.exitCode === null) tail.proc.kill('SIGKILL');
  });
  const count = () => tail.stdout().split('\n').filter(Boolean).length;
  const detail = () => `stdout lines: ${count()}\nstderr:\n${tail.stderr()}`;
  await until('the stored lines', 15_000, () => count() >= 50, detail);

  // Committed (the 200 came back) and the server dies at once: these may or may not have reached
  // the tail; after the restart they must be there exactly once.
  await send(server.url, lines(session, 50, 200));
  server.kill('SIGKILL');
  await waitExit(server, 10_000);
  await sleep(300);
  assert.equal(tail.proc.exitCode, null, 'the tail keeps trying while the server is down');

  server = await startServer(t, { dataDir, args });
  await send(server.url, lines(session, 250, 100, 'stderr'));
  await until('the lines sent after the restart', 30_000, () => count() >= 350, detail);

  // A second, graceful restart while the tail is live.
  server.kill('SIGTERM');
  assert.equal((await waitExit(server, 15_000)).code, 0);
  server = await startServer(t, { dataDir, args });
  await send(server.url, [...lines(session, 350, 10), { session, key: 'session.end', value: { ok: true } }]);

  const exit = await Promise.race([tail.exited, sleep(30_000).then(() => null)]);
  assert.ok(exit, `tail did not exit after session.end\n${detail()}`);
  assert.equal(exit.code, 0, detail());

  const printed = tail
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as StoredEvent);
  const stored = await readAll(server.url, session);
  assert.equal(stored.length, 361);
  const ids = printed.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'no event printed twice');
  assert.deepEqual(printed, stored, 'printed events equal the stored sequence');
  assert.match(tail.stderr(), /reconnecting after \d+-\d+/, 'the user is told about the reconnection');
});

test('logsrv tail prints stdout values to stdout, stderr values and other keys to stderr; --after skips', { timeout: 60_000 }, async (t) => {
  const server = await startServer(t);
  const session = 'print-session';
  await send(server.url, [
    { session, key: 'step.start', value: { step: 'build' } },
    { session, key: 'stdout', value: 'compiling \u001b[32mok\u001b[0m' },
    { session, key: 'stderr', value: 'warning: x' },
    { session, key: 'stdout', value: 'done' },
    { session, key: 'step.exit', value: { code: 0, final: true } },
  ]);
  const r = await runCli(['tail', session, '--server', server.url], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'compiling \u001b[32mok\u001b[0m\ndone\n');
  assert.equal(r.stderr, 'step.start {"step":"build"}\nwarning: x\nstep.exit {"code":0,"final":true}\n');

  const stored = await readAll(server.url, session);
  const skipped = await runCli(['tail', session, '--after', stored[2]!.id], { timeoutMs: 20_000, env: { LOGSRV_SERVER: server.url } });
  assert.equal(skipped.code, 0, skipped.stderr);
  assert.equal(skipped.stdout, 'done\n');
});

test('logsrv tail exits 1 with the server reason on a bad cursor, without retrying', { timeout: 60_000 }, async (t) => {
  const server = await startServer(t);
  const r = await runCli(['tail', 's', '--after', 'not-an-id', '--server', server.url], { timeoutMs: 20_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /logsrv tail: parameter 'after' is not an event id/);
  assert.doesNotMatch(r.stderr, /reconnecting/);
});
