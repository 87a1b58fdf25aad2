/**
 * `logsrv serve` with a data directory it cannot use: one line on stderr naming the problem and
 * the fix, exit 1, no stack trace, and never a server that reports healthy and then fails writes.
 * And the data-directory lock: a second server on the same directory refuses, naming the holder.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CliResult } from './helpers.js';
import { json, postNdjson, runCli, startServer, tempDir, waitExit } from './helpers.js';

const NOBODY = 65534;

function serve(data: string, extra: { uid?: number } = {}): Promise<CliResult> {
  return runCli(['serve', '--http', '127.0.0.1:0', '--udp', 'off', '--data', data], { timeoutMs: 10_000, ...extra });
}

function assertOneLineRefusal(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code; stderr:\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0] ?? '', /^logsrv serve: /);
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(r.stdout, /listening/i, 'never listened');
}

test('serve --data naming a file: one line, exit 1', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'afile');
  writeFileSync(file, 'x');
  assertOneLineRefusal(await serve(file), /--data .*afile is not a directory/);
});

test('serve --data under /proc: refused at once (not a hang), exit 1', async () => {
  const r = await serve('/proc/logsrv-data');
  assertOneLineRefusal(r, /procfs/);
});

test('serve --data on a directory it cannot write: refused before listening, exit 1', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'ro');
  mkdirSync(data);
  chmodSync(data, 0o555);
  // root writes anywhere: run the server as `nobody` then (the repository is world-readable).
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  const r = await serve(data, asRoot ? { uid: NOBODY } : {}).finally(() => chmodSync(data, 0o755)); // so the temp dir can be removed
  assertOneLineRefusal(r, /is not writable: permission denied/);
});

test('serve --data whose parent cannot be written: cannot be created, exit 1', async (t) => {
  const dir = tempDir(t);
  const parent = join(dir, 'locked');
  mkdirSync(parent);
  chmodSync(parent, 0o555);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  const r = await serve(join(parent, 'data'), asRoot ? { uid: NOBODY } : {}).finally(() => chmodSync(parent, 0o755));
  assertOneLineRefusal(r, /cannot be created: permission denied/);
});

test('a second server on the same data directory refuses and names the holding pid; the first keeps working', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir(t);
  const first = await startServer(t, { dataDir });
  assert.equal(readFileSync(join(dataDir, 'logsrv.pid'), 'utf8').trim(), String(first.pid));
  const second = await serve(dataDir);
  assertOneLineRefusal(second, new RegExp(`in use by another logsrv \\(pid ${first.pid}, `));
  const r = await postNdjson(first.url, [{ session: 'lock', key: 'k', value: 1 }]);
  assert.equal(r.status, 200, r.text);
  assert.equal(json(r).accepted, 1);

  // A clean stop removes the lock; a new server starts on the directory.
  first.kill('SIGTERM');
  assert.equal((await waitExit(first, 20_000)).code, 0);
  assert.equal(existsSync(join(dataDir, 'logsrv.pid')), false, 'lock removed on a clean stop');
  const third = await startServer(t, { dataDir });

  // A crashed holder leaves a stale lock: the next server takes it over.
  third.kill('SIGKILL');
  await waitExit(third, 10_000);
  assert.equal(readFileSync(join(dataDir, 'logsrv.pid'), 'utf8').trim(), String(third.pid), 'the killed server left its lock');
  const fourth = await startServer(t, { dataDir });
  assert.equal(readFileSync(join(dataDir, 'logsrv.pid'), 'utf8').trim(), String(fourth.pid));
  const r2 = await postNdjson(fourth.url, [{ session: 'lock', key: 'k', value: 2 }]);
  assert.equal(r2.status, 200, r2.text);
});
