/**
 * Issue 15: what `logsrv run` stores is shown in every view as the terminal showed it — the order
 * of stdout and stderr as the agent read them, `\r` progress bars and prompts as one line, and
 * `--tty` for colours and the exact order of both streams. Each case is checked in `format=text`,
 * `logsrv tail` and the SSE tail (the web UI's view: ui-terminal.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { LineJoiner, screenLine } from '@logsrv/protocol/terminal';
import type { StoredEvent } from './helpers.js';
import { BIN, childEnv, ROOT, readAll, request } from './helpers.js';
import { followTail, nodeScript, runAgent, suiteServer } from './run-helpers.js';

/** `logsrv tail SESSION` to its end: the bytes of its stdout, or of stdout and stderr together (one pipe, written in order). */
function tailBytes(server: string, session: string, merged: boolean): Promise<{ code: number | null; out: Buffer }> {
  return new Promise((resolve, reject) => {
    const argv = merged
      ? ['sh', '-c', 'exec "$0" "$1" tail --server "$2" "$3" 2>&1', process.execPath, BIN, server, session]
      : [process.execPath, BIN, 'tail', '--server', server, session];
    const proc = spawn(argv[0] as string, argv.slice(1), { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', merged ? 'inherit' : 'ignore'] });
    const out: Buffer[] = [];
    proc.stdout.on('data', (b: Buffer) => out.push(b));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: Buffer.concat(out) });
    });
  });
}

async function text(server: string, session: string, params = ''): Promise<string> {
  const r = await request(`${server}/v1/sessions/${encodeURIComponent(session)}/events?format=text${params}`);
  assert.equal(r.status, 200, r.text);
  return r.text;
}

/** Output events as screen lines, `stdout:`/`stderr:` prefixed, pieces joined per stream. */
function screenLines(events: StoredEvent[]): string[] {
  const out: string[] = [];
  const joiners = new Map<string, LineJoiner>();
  for (const e of events) {
    if (e.key !== 'stdout' && e.key !== 'stderr') continue;
    let j = joiners.get(e.key);
    if (!j) {
      const key = e.key;
      j = new LineJoiner((raw) => out.push(`${key}:${screenLine(raw)}`));
      joiners.set(e.key, j);
    }
    j.push(e as { value: unknown; attrs?: Record<string, unknown> });
  }
  return out;
}

describe('logsrv run: the output as the terminal showed it, in every view', { timeout: 120_000 }, () => {
  const suite = suiteServer();

  test('stdout and stderr keep the order in which the agent read them: format=text, tail, SSE', async (t) => {
    const server = suite.server().url;
    // Each line is written only once the previous one is stored, so the agent read them in this order.
    const script = `const url = process.env.LOGSRV_SERVER + '/v1/sessions/order/events?limit=100';
      const stored = async () => (await (await fetch(url)).json()).events.filter((e) => e.key === 'stdout' || e.key === 'stderr').length;
      for (let i = 0; i < 6; i++) {
        (i % 2 ? process.stderr : process.stdout).write((i % 2 ? 'err ' : 'out ') + i + '\\n');
        while ((await stored()) <= i) await new Promise((r) => setTimeout(r, 5));
      }`;
    const sse = followTail(server, 'order');
    const r = await runAgent(t, server, suite.spool(), ['--session', 'order', '--', ...nodeScript(script)]);
    assert.equal(r.code, 0, r.stderr);
    const want = ['out 0', 'err 1', 'out 2', 'err 3', 'out 4', 'err 5'];
    assert.equal(await text(server, 'order'), `${want.join('\n')}\n`, 'format=text: the output only, in read order, no step JSON');
    const tail = await tailBytes(server, 'order', true);
    assert.equal(tail.code, 0);
    const tailLines = tail.out
      .toString()
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('step.'));
    assert.deepEqual(tailLines, want, 'logsrv tail, stdout and stderr in one pipe');
    assert.equal(await sse.ended, 'end');
    assert.deepEqual(
      sse.arrivals
        .map((a) => a.event)
        .filter((e) => e.key === 'stdout' || e.key === 'stderr')
        .map((e) => `${e.key}:${e.value}`),
      want.map((w) => `${w.startsWith('out') ? 'stdout' : 'stderr'}:${w}`),
      'the SSE tail',
    );
  });

  test('a \\r progress bar and a prompt without newline are one line each, updated live', async (t) => {
    const server = suite.server().url;
    const command = 'for p in 10 50 100; do printf "\\rprogress %d%%" $p; sleep 0.3; done; echo; printf "Password: "; sleep 0.4; echo ok';
    const printed = '\rprogress 10%\rprogress 50%\rprogress 100%\nPassword: ok\n';
    const sse = followTail(server, 'progress');
    const r = await runAgent(t, server, suite.spool(), ['--session', 'progress', '--', 'sh', '-c', command]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), printed, 'the terminal got the bytes unchanged');

    // format=text: one line per terminal line, showing its last state; no blank lines.
    assert.equal(await text(server, 'progress'), 'progress 100%\nPassword: ok\n');

    // The stored events keep the \r in the value (SPEC §1: the value is the text as written).
    const events = await readAll(server, 'progress');
    const pieces = events.filter((e) => e.key === 'stdout');
    assert.ok(
      pieces.some((e) => typeof e.value === 'string' && e.value.includes('\r') && (e.attrs as { partial?: boolean } | undefined)?.partial === true),
      JSON.stringify(pieces),
    );
    assert.deepEqual(screenLines(events), ['stdout:progress 100%', 'stdout:Password: ok']);

    // The SSE tail: every state arrived while the command ran, as pieces of one line.
    assert.equal(await sse.ended, 'end');
    const arrived = sse.arrivals.filter((a) => a.event.key === 'stdout');
    const exitAt = sse.arrivals.find((a) => a.event.key === 'step.exit')?.at ?? Number.POSITIVE_INFINITY;
    const first = arrived.find((a) => String(a.event.value).includes('progress 10%'));
    assert.ok(first, 'the first state was sent');
    assert.ok(exitAt - first.at >= 500, `the first state arrived ${Math.round(exitAt - first.at)} ms before the end: live`);
    assert.deepEqual(screenLines(arrived.map((a) => a.event)), ['stdout:progress 100%', 'stdout:Password: ok']);

    // logsrv tail writes the pieces as the command wrote them: a terminal draws the same picture.
    const tail = await tailBytes(server, 'progress', false);
    assert.equal(tail.code, 0);
    assert.equal(tail.out.toString(), printed);
  });

  test('--tty: colours for a terminal and the exact order of both streams, all as stdout', async (t) => {
    const server = suite.server().url;
    const command =
      'for i in 1 2 3 4 5; do echo out $i; echo err $i >&2; done; if [ -t 1 ]; then printf "\\033[32mcoloured\\033[0m\\n"; else echo plain; fi; printf "\\rstep 1/2\\rstep 2/2\\n"; exit 3';
    const sse = followTail(server, 'tty');
    const r = await runAgent(t, server, suite.spool(), ['--session', 'tty', '--tty', '--', 'sh', '-c', command]);
    assert.equal(r.code, 3, r.stderr);
    const want = ['out 1', 'err 1', 'out 2', 'err 2', 'out 3', 'err 3', 'out 4', 'err 4', 'out 5', 'err 5', '\u001b[32mcoloured\u001b[0m', 'step 2/2'];
    assert.equal(await text(server, 'tty'), `${want.join('\n')}\n`, 'format=text');

    const events = await readAll(server, 'tty');
    assert.deepEqual(events[0]?.value && (events[0].value as { tty?: boolean }).tty, true, 'step.start says tty');
    assert.equal(events.filter((e) => e.key === 'stderr').length, 0, 'a terminal has one output stream: everything is stdout');
    assert.deepEqual(
      screenLines(events),
      want.map((w) => `stdout:${w}`),
    );
    const exit = events.find((e) => e.key === 'step.exit')?.value as { code: number };
    assert.equal(exit.code, 3);

    assert.equal(await sse.ended, 'end');
    assert.deepEqual(
      screenLines(sse.arrivals.map((a) => a.event)),
      want.map((w) => `stdout:${w}`),
      'the SSE tail',
    );

    const tail = await tailBytes(server, 'tty', false);
    assert.equal(tail.code, 0);
    assert.deepEqual(
      tail.out
        .toString()
        .split('\n')
        .slice(0, -1)
        .map((l) => screenLine(l)),
      want,
      'logsrv tail',
    );
  });

  test('--tty: a command that does not exist exits 127 like without it', async (t) => {
    const r = await runAgent(t, suite.server().url, suite.spool(), ['--session', 'tty-missing', '--tty', '--', 'no-such-command-15']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /command not found/);
  });
});
