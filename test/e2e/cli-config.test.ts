/**
 * `logsrv serve` configuration (SPEC §4, STYLE rule 5): every option has a flag, an env mirror
 * and a config-file key; precedence is flag > env > file > default; anything invalid fails fast
 * with exit code 2 and a message naming the option and what to change, before listening.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { IngestResult } from './helpers.js';
import { json, postNdjson, runCli, startServer, tempDir } from './helpers.js';

interface BadCase {
  name: string;
  args?: string[];
  env?: Record<string, string>;
  /** Config file content, written to a temp file passed with --config. */
  file?: string;
  /** The message must match all of these. */
  says: RegExp[];
}

const badCases: BadCase[] = [
  {
    name: 'a non-numeric --max-line-bytes',
    args: ['--max-line-bytes', 'abc'],
    says: [/--max-line-bytes/, /integer/, /"abc"/],
  },
  {
    name: '--max-line-bytes below its minimum',
    args: ['--max-line-bytes', '10'],
    says: [/--max-line-bytes/, /≥ 64|>= 64|at least 64/],
  },
  { name: '--http without a port', args: ['--http', 'nope'], says: [/--http/, /HOST:PORT/, /"nope"/] },
  {
    name: 'a negative LOGSRV_MAX_QUEUE_EVENTS',
    env: { LOGSRV_MAX_QUEUE_EVENTS: '-1' },
    says: [/LOGSRV_MAX_QUEUE_EVENTS/, /integer/, /"-1"/],
  },
  {
    name: 'a config file with an unknown key',
    file: JSON.stringify({ maxLinBytes: 100 }),
    says: [/unknown option "maxLinBytes"/, /maxLineBytes/],
  },
  { name: 'a config file that is not valid JSON', file: '{"maxLineBytes": 100,', says: [/not valid JSON/, /\.json/] },
  {
    name: 'a config file value of the wrong type',
    file: JSON.stringify({ maxLineBytes: 'big' }),
    says: [/maxLineBytes/, /integer/],
  },
  { name: 'a config file that does not exist', args: ['--config', '/nonexistent/logsrv.json'], says: [/\/nonexistent\/logsrv\.json/] },
  // Usage errors exit 2 like bad values do, so scripts can tell "fix your command" from a crash.
  { name: 'an unknown flag', args: ['--max-lin-bytes', '100'], says: [/--max-lin-bytes/] },
  { name: 'a flag without its value', args: ['--http'], says: [/--http/] },
];

// Each case is a short-lived process; they run side by side to keep the suite fast.
describe('serve refuses bad configuration', { concurrency: 4 }, () => {
  for (const c of badCases) {
    test(`serve with ${c.name} exits 2 naming the option, before listening`, { timeout: 20_000 }, async (t) => {
      const dir = tempDir(t);
      const args = ['serve', '--data', join(dir, 'data'), '--log-level', 'warn'];
      if (!c.args?.includes('--http')) args.push('--http', '127.0.0.1:0');
      if (c.file !== undefined) {
        const file = join(dir, 'logsrv.json');
        writeFileSync(file, c.file);
        args.push('--config', file);
      }
      args.push(...(c.args ?? []));
      const r = await runCli(args, { env: c.env });
      assert.equal(r.code, 2, `exit code; stderr:\n${r.stderr}`);
      for (const re of c.says) assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /listening on/);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'a config error is a message, not a stack trace');
    });
  }
});

/** Posts one small line and lines of the given sizes; returns which sizes were rejected and why. */
async function rejectedSizes(url: string, sizes: number[]): Promise<{ sizes: number[]; reasons: string[] }> {
  const line = (n: number) => {
    const base = JSON.stringify({ session: 'cfg', key: 'stdout', value: '' });
    return JSON.stringify({ session: 'cfg', key: 'stdout', value: 'x'.repeat(n - base.length) });
  };
  const lines = [JSON.stringify({ session: 'cfg', key: 'stdout', value: 'small' }), ...sizes.map(line)];
  for (const [i, n] of sizes.entries()) assert.equal(Buffer.byteLength(lines[i + 1] as string), n);
  const res = await postNdjson(url, lines);
  assert.equal(res.status, 200, res.text);
  const body = json<IngestResult>(res);
  assert.equal(body.accepted + body.rejected.length, lines.length);
  return { sizes: body.rejected.map((r) => sizes[r.index - 1] as number), reasons: body.rejected.map((r) => r.reason ?? r.error) };
}

test('a valid config file is honoured: its address, data dir and maxLineBytes take effect', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, 'from-file');
  const file = join(dir, 'logsrv.json');
  writeFileSync(file, JSON.stringify({ http: '127.0.0.1:0', dataDir, maxLineBytes: 200, logLevel: 'warn' }));
  const server = await startServer(t, { bare: true, args: ['--config', file] });
  assert.match(server.stderr(), new RegExp(`data in ${dataDir}`));
  const r = await rejectedSizes(server.url, [150, 300]);
  assert.deepEqual(r, { sizes: [300], reasons: ['line_too_large'] });
  assert.ok(existsSync(dataDir) && readdirSync(dataDir).length > 0, 'events are stored in the dataDir of the file');
});

test('LOGSRV_CONFIG names the config file like --config does', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'logsrv.json');
  writeFileSync(file, JSON.stringify({ maxLineBytes: 200 }));
  const server = await startServer(t, { env: { LOGSRV_CONFIG: file } });
  assert.deepEqual((await rejectedSizes(server.url, [300])).sizes, [300]);
});

test('precedence is flag over env over config file', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'logsrv.json');
  writeFileSync(file, JSON.stringify({ maxLineBytes: 200 }));
  const sizes = [300, 600, 1000];

  const fileOnly = await startServer(t, { args: ['--config', file] });
  assert.deepEqual((await rejectedSizes(fileOnly.url, sizes)).sizes, [300, 600, 1000], 'file: limit 200');
  fileOnly.kill('SIGKILL');

  const envOverFile = await startServer(t, { args: ['--config', file], env: { LOGSRV_MAX_LINE_BYTES: '400' } });
  assert.deepEqual((await rejectedSizes(envOverFile.url, sizes)).sizes, [600, 1000], 'env 400 beats file 200');
  envOverFile.kill('SIGKILL');

  const flagOverEnv = await startServer(t, { args: ['--config', file, '--max-line-bytes', '800'], env: { LOGSRV_MAX_LINE_BYTES: '400' } });
  assert.deepEqual((await rejectedSizes(flagOverEnv.url, sizes)).sizes, [1000], 'flag 800 beats env 400');
});

test('serve --help lists every option with its env mirror', { timeout: 20_000 }, async () => {
  const r = await runCli(['serve', '--help']);
  assert.equal(r.code, 0, r.stderr);
  // One entry per option: a line starting with "-", plus its wrapped continuation lines.
  const entries: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (/^\s+-/.test(line)) entries.push(line.trim());
    else if (entries.length > 0 && /^\s{4,}\S/.test(line)) entries[entries.length - 1] += ` ${line.trim()}`;
  }
  const flags = new Map<string, string>();
  for (const e of entries) {
    const m = /--([a-z][a-z-]*)/.exec(e);
    if (m?.[1] && m[1] !== 'help') flags.set(m[1], e.replace(/\s+/g, ' '));
  }
  for (const f of ['http', 'data', 'store', 'queue', 'role', 'config', 'max-body-bytes', 'max-line-bytes', 'max-queue-events', 'log-level']) {
    assert.ok(flags.has(f), `--${f} missing from serve --help:\n${r.stdout}`);
  }
  const missingEnv = [...flags].filter(([f, text]) => !text.includes(`LOGSRV_${f.toUpperCase().replace(/-/g, '_')}`)).map(([f]) => `--${f}`);
  assert.deepEqual(missingEnv, [], `options whose help does not name their env mirror:\n${r.stdout}`);
});

test('serve on an address already in use exits 1 saying which one, for HTTP and for UDP', { timeout: 40_000 }, async (t) => {
  const first = await startServer(t);
  const httpPort = new URL(first.url).port;
  const http = await runCli(['serve', '--data', join(tempDir(t), 'data'), '--http', `127.0.0.1:${httpPort}`, '--udp', 'off']);
  assert.equal(http.code, 1, http.stderr);
  assert.match(http.stderr, new RegExp(`logsrv serve: cannot listen on HTTP 127\\.0\\.0\\.1:${httpPort}: the address is in use`));
  assert.doesNotMatch(http.stderr, /^\s+at /m, 'a message, not a stack trace');

  const holder = createSocket('udp4');
  await new Promise<void>((r) => holder.bind(0, '127.0.0.1', () => r()));
  t.after(() => holder.close());
  const udpPort = holder.address().port;
  const udp = await runCli(['serve', '--data', join(tempDir(t), 'data'), '--http', '127.0.0.1:0', '--udp', `127.0.0.1:${udpPort}`]);
  assert.equal(udp.code, 1, udp.stderr);
  assert.match(udp.stderr, new RegExp(`logsrv serve: cannot listen on UDP 127\\.0\\.0\\.1:${udpPort}: the address is in use`));
  assert.doesNotMatch(udp.stderr, /listening on/);
});
