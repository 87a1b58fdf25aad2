/**
 * Issue 4 / SPEC §4: `logsrv run` exits with the command's code (128+n for a signal), forwards
 * SIGTERM/SIGINT, records step.start/step.exit, generates and prints a session when none is given.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ServerProcess, StoredEvent } from './helpers.js';
import { readAll, sleep } from './helpers.js';
import { nodeScript, runAgent, startAgent, suiteServer } from './run-helpers.js';

interface ExitValue {
  code: number | null;
  signal: string | null;
  durationMs: number;
  final: boolean;
  error?: string;
}

function stepExit(events: StoredEvent[]): ExitValue {
  const e = events.find((x) => x.key === 'step.exit');
  assert.ok(e, `no step.exit in ${JSON.stringify(events.map((x) => x.key))}`);
  return e.value as ExitValue;
}

describe('logsrv run: exit codes, signals, steps, sessions', { timeout: 90_000 }, () => {
  const suite = suiteServer();
  let server: ServerProcess;
  let spool: string;
  before(() => {
    server = suite.server();
    spool = suite.spool();
  });

  test('exit code and step events: code 3, final true, step name on every event', async (t) => {
    const r = await runAgent(t, server.url, spool, ['--session', 'code3', '--step', 'build', '--', ...nodeScript('console.log("x"); process.exit(3)')]);
    assert.equal(r.code, 3);
    const events = await readAll(server.url, 'code3');
    assert.deepEqual(
      events.map((e) => e.key),
      ['step.start', 'stdout', 'step.exit'],
    );
    for (const e of events) assert.equal(e.step, 'build');
    const start = events[0]?.value as { command: string[]; cwd: string };
    assert.equal(start.command[0], process.execPath);
    assert.equal(typeof start.cwd, 'string');
    const exit = stepExit(events);
    assert.equal(exit.code, 3);
    assert.equal(exit.signal, null);
    assert.equal(exit.final, true);
    assert.ok(exit.durationMs >= 0 && exit.durationMs < 10_000);
  });

  test('a command killed by a signal: exit 128+n and the signal in step.exit', async (t) => {
    const r = await runAgent(t, server.url, spool, ['--session', 'killed', '--', ...nodeScript('process.kill(process.pid, "SIGKILL")')]);
    assert.equal(r.code, 137);
    const exit = stepExit(await readAll(server.url, 'killed'));
    assert.equal(exit.code, null);
    assert.equal(exit.signal, 'SIGKILL');
  });

  for (const [sig, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    test(`${sig} to logsrv run is forwarded to the command; output up to then is kept`, async (t) => {
      const session = `forward-${sig}`;
      const agent = startAgent(t, ['run', '--session', session, '--', ...nodeScript('console.log("ready"); setInterval(() => {}, 1000)')], {
        env: { LOGSRV_SERVER: server.url, LOGSRV_SPOOL: spool },
      });
      for (let i = 0; i < 100 && !(await readAll(server.url, session)).some((e) => e.value === 'ready'); i++) await sleep(50);
      agent.proc.kill(sig);
      const r = await agent.done;
      assert.equal(r.code, code, r.stderr);
      const events = await readAll(server.url, session);
      assert.ok(events.some((e) => e.value === 'ready'));
      assert.equal(stepExit(events).signal, sig);
    });
  }

  test('a command that handles SIGTERM and exits 0: the agent exits 0 and its last words are stored', async (t) => {
    const session = 'graceful';
    const agent = startAgent(
      t,
      [
        'run',
        '--session',
        session,
        '--',
        ...nodeScript('process.on("SIGTERM", () => { console.log("cleaning up"); process.exit(0); }); console.log("ready"); setInterval(() => {}, 1000)'),
      ],
      { env: { LOGSRV_SERVER: server.url, LOGSRV_SPOOL: spool } },
    );
    for (let i = 0; i < 100 && !(await readAll(server.url, session)).some((e) => e.value === 'ready'); i++) await sleep(50);
    agent.proc.kill('SIGTERM');
    const r = await agent.done;
    assert.equal(r.code, 0, r.stderr);
    const events = await readAll(server.url, session);
    assert.deepEqual(
      events.filter((e) => e.key === 'stdout').map((e) => e.value),
      ['ready', 'cleaning up'],
    );
    assert.deepEqual(stepExit(events).code, 0);
  });

  test('a command that does not exist: exit 127, a clear message, and a step.exit saying why', async (t) => {
    const r = await runAgent(t, server.url, spool, ['--session', 'missing', '--', 'no-such-command-xyz', 'arg']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /cannot run "no-such-command-xyz": command not found/);
    const exit = stepExit(await readAll(server.url, 'missing'));
    assert.equal(exit.code, 127);
    assert.match(exit.error ?? '', /not found/);
  });

  test('without --session a session is generated and printed to stderr; options after the command go to the command', async (t) => {
    // No `--`: everything after the command name belongs to it, `-e` included.
    const r = await runAgent(t, server.url, spool, [
      '--keep-open',
      process.execPath,
      '-e',
      'console.log(process.argv.slice(1).join(" "))',
      '--',
      '--flag',
      'x',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = /session (run-\S+)/.exec(r.stderr);
    assert.ok(m?.[1], r.stderr);
    const events = await readAll(server.url, m[1]);
    assert.deepEqual(
      events.filter((e) => e.key === 'stdout').map((e) => e.value),
      ['--flag x'],
    );
    assert.equal(stepExit(events).final, false, '--keep-open');
    assert.equal(r.stdout.toString(), '--flag x\n');
  });

  test('bad options are usage errors (exit 2) with a message', async (t) => {
    const r1 = await runAgent(t, 'not a url', spool, ['--', 'true']);
    assert.equal(r1.code, 2);
    assert.match(r1.stderr, /--server/);
    const r2 = await runAgent(t, server.url, spool, ['--max-line-bytes', '10', '--', 'true']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /max-line-bytes/);
    const r3 = await runAgent(t, server.url, spool, ['--session', 'x'.repeat(300), '--', 'true']);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--session must be 1 to 256 characters/);
  });

  test('logsrv send: stdin lines become events with the given key, stdin is copied to stdout', async (t) => {
    const r = await startAgent(t, ['send', '--session', 'piped', '--key', 'build'], {
      env: { LOGSRV_SERVER: server.url, LOGSRV_SPOOL: spool },
      stdin: 'one\ntwo\r\nthree',
    }).done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'one\ntwo\r\nthree');
    const events = await readAll(server.url, 'piped');
    assert.deepEqual(
      events.map((e) => [e.key, e.value]),
      [
        ['build', 'one'],
        ['build', 'two'],
        ['build', 'three'],
        ['session.end', { reason: 'end of input' }],
      ],
    );
    const missing = await startAgent(t, ['send'], { env: { LOGSRV_SERVER: server.url }, stdin: '' }).done;
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--session/);
  });
});
