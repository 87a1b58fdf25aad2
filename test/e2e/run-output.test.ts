/**
 * Issue 4, "must show": what `logsrv run` stores is what the command printed — a 3 MB single
 * line and 200k lines whole and in order, stdout/stderr interleaving as observed, a binary /
 * invalid-UTF-8 stream decoded the documented way — while the terminal gets the bytes unchanged.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { screenLine } from '@logsrv/protocol/terminal';
import { BIN, childEnv, ROOT, readAll, tempDir } from './helpers.js';
import { joinedLines, nodeScript, runAgent, suiteServer } from './run-helpers.js';

/** A long string with multi-byte characters (2, 3 and 4 bytes); its source also runs in the command. */
function make(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += i.toString(36) + (i % 7 === 0 ? 'é€😀' : '-');
  return s;
}
const MAKE = make.toString();

/** The documented splitting (packages/cli/src/output-lines.ts) applied to the whole output: lines end at `\n` (a `\r` before it is dropped), other `\r` stay in the text. */
function reference(all: Buffer): string[] {
  const lines = all
    .toString('utf8')
    .split('\n')
    .map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * Each line as a terminal shows it (screenLine; the trailing `\r` puts every line through the
 * screen model, so escape sequences compare normalised): a `\r\n` cut between two reads leaves its
 * `\r` at the end of a piece, which shows the same.
 */
function screens(lines: string[]): string[] {
  return lines.map((l) => screenLine(`${l}\r`));
}

describe('logsrv run stores the output whole and in order', { timeout: 90_000 }, () => {
  const suite = suiteServer();
  test('a 3 MB single line arrives whole, as pieces that each fit the server line limit', async (t) => {
    const server = suite.server();
    const spool = suite.spool();
    const script = `${MAKE}; process.stdout.write('before\\n' + make(3_000_000) + '\\nafter\\n')`;
    const r = await runAgent(t, server.url, spool, ['--session', 'big-line', '--', ...nodeScript(script)]);
    assert.equal(r.code, 0, r.stderr);
    const expected = `before\n${make(3_000_000)}\nafter\n`;
    assert.ok(r.stdout.equals(Buffer.from(expected)), 'the terminal got the bytes unchanged');
    const events = await readAll(server.url, 'big-line');
    const pieces = events.filter((e) => e.key === 'stdout');
    assert.ok(pieces.length >= 5, `${pieces.length} stdout events`);
    for (const p of pieces) assert.ok(Buffer.byteLength(JSON.stringify(p.value)) < 1024 * 1024);
    assert.deepEqual(joinedLines(events, 'stdout'), ['before', make(3_000_000), 'after']);
  });

  test('200k lines arrive once each, in order', async (t) => {
    const server = suite.server();
    const spool = suite.spool();
    const N = 200_000;
    const script = `let b = ''; for (let i = 0; i < ${N}; i++) { b += 'line ' + i + '\\n'; if (b.length > 65536) { process.stdout.write(b); b = ''; } } process.stdout.write(b)`;
    const r = await runAgent(t, server.url, spool, ['--session', 'many-lines', '--', ...nodeScript(script)], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, Buffer.byteLength(Array.from({ length: N }, (_, i) => `line ${i}\n`).join('')));
    const events = await readAll(server.url, 'many-lines', { limit: 10_000 });
    const lines = joinedLines(events, 'stdout');
    assert.equal(lines.length, N);
    for (let i = 0; i < N; i++) if (lines[i] !== `line ${i}`) assert.fail(`line ${i} is ${JSON.stringify(lines[i])}`);
    assert.equal(events.at(-1)?.key, 'step.exit');
  });

  test('no usable spool directory: the command is read at the server pace instead, and every line arrives once, in order', async (t) => {
    const server = suite.server();
    const notDir = join(tempDir(t), 'a-file');
    writeFileSync(notDir, 'x');
    const N = 200_000;
    // ~10 MB: more than the agent keeps in memory (4 MiB) while the server catches up.
    const pad = 'x'.repeat(40);
    const script = `let b = ''; for (let i = 0; i < ${N}; i++) { b += 'line ' + i + ' ${pad}\\n'; if (b.length > 65536) { process.stdout.write(b); b = ''; } } process.stdout.write(b); process.exitCode = 5`;
    const r = await runAgent(t, server.url, join(notDir, 'spool'), ['--session', 'no-spool', '--', ...nodeScript(script)], { timeoutMs: 60_000 });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /backlog file cannot be written/);
    const events = await readAll(server.url, 'no-spool', { limit: 10_000 });
    const lines = joinedLines(events, 'stdout');
    assert.equal(lines.length, N);
    for (let i = 0; i < N; i++) if (lines[i] !== `line ${i} ${pad}`) assert.fail(`line ${i} is ${JSON.stringify(lines[i])}`);
    assert.equal(events.at(-1)?.key, 'step.exit');
  });

  test('stdout and stderr keep the order in which they were printed', { timeout: 30_000 }, async (t) => {
    const server = suite.server();
    const spool = suite.spool();
    // "As observed": chunks read in one turn of the agent's loop cannot be ordered, so the command
    // writes its next line only once the previous one is stored (it polls the server) — then the
    // agent must have read them in this order, however loaded the machine is.
    const script = `const url = process.env.LOGSRV_SERVER + '/v1/sessions/interleaved/events?limit=100';
      const stored = async () => (await (await fetch(url)).json()).events.filter((e) => e.key === 'stdout' || e.key === 'stderr').length;
      for (let i = 0; i < 10; i++) {
        (i % 2 ? process.stderr : process.stdout).write((i % 2 ? 'err ' : 'out ') + i + '\\n');
        while ((await stored()) <= i) await new Promise((r) => setTimeout(r, 5));
      }`;
    const r = await runAgent(t, server.url, spool, ['--session', 'interleaved', '--', ...nodeScript(script)]);
    assert.equal(r.code, 0, r.stderr);
    const events = (await readAll(server.url, 'interleaved')).filter((e) => e.key === 'stdout' || e.key === 'stderr');
    assert.deepEqual(
      events.map((e) => `${e.key}:${e.value}`),
      Array.from({ length: 10 }, (_, i) => (i % 2 ? `stderr:err ${i}` : `stdout:out ${i}`)),
    );
  });

  test('the terminal side going away (logsrv run cmd | head) stops the tee, not the capture', { timeout: 30_000 }, async (t) => {
    const server = suite.server();
    const spool = suite.spool();
    const N = 20_000;
    const agent = spawn(
      process.execPath,
      [BIN, 'run', '--session', 'broken-tee', '--', ...nodeScript(`for (let i = 0; i < ${N}; i++) console.log('line ' + i)`)],
      {
        cwd: ROOT,
        env: childEnv({ LOGSRV_SERVER: server.url, LOGSRV_SPOOL: spool }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    t.after(() => agent.kill('SIGKILL'));
    // Read one chunk, then close our end of the pipe, as `head -1` does.
    agent.stdout.once('data', () => agent.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => agent.once('exit', resolve));
    assert.equal(code, 0);
    const lines = joinedLines(await readAll(server.url, 'broken-tee', { limit: 10_000 }), 'stdout');
    assert.equal(lines.length, N);
    assert.equal(lines[N - 1], `line ${N - 1}`);
  });

  test('a binary, invalid-UTF-8 stream: the terminal gets the bytes, the store gets U+FFFD for bad bytes, never a crash', async (t) => {
    const server = suite.server();
    const spool = suite.spool();
    const dir = tempDir(t);
    // Deterministic bytes: random ones, plus sequences that are invalid or cut in the middle.
    let x = 12345;
    const bytes = Buffer.alloc(512 * 1024);
    for (let i = 0; i < bytes.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      bytes[i] = x >>> 24;
    }
    const nasty = Buffer.from([0xc3, 0x0a, 0xe2, 0x82, 0x0d, 0xf0, 0x9f, 0x98, 0xed, 0xa0, 0x80, 0xc0, 0xaf, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d]);
    const file = join(dir, 'blob.bin');
    const input = Buffer.concat([bytes, nasty, bytes.subarray(0, 1000)]);
    writeFileSync(file, input);
    const r = await runAgent(t, server.url, spool, ['--session', 'binary', '--', 'cat', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(input), 'tee is byte-exact');
    const events = await readAll(server.url, 'binary', { limit: 10_000 });
    assert.deepEqual(screens(joinedLines(events, 'stdout')), screens(reference(input)));
  });
});
