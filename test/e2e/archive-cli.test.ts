/**
 * `logsrv archive` and `logsrv restore` (SPEC §4) as a user runs them: the built CLI on a data
 * directory holding an old day (written by a server whose clock is set to that day), then a real
 * `logsrv serve` on the same directory serving what was restored.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, startServer as startInProcess } from '@logsrv/server';
import { postNdjson, readAll, runCli, startServer, tempDir } from './helpers.js';

test('logsrv archive moves an old day out, logsrv restore puts it back, and serve reads it', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir(t);
  // An old day: a server in this process with its clock on 2026-10-05.
  const old = await startInProcess(loadConfig({ http: '127.0.0.1:0', udp: 'off', dataDir, logLevel: 'silent' }), {
    clock: () => Date.UTC(2026, 9, 5, 8),
  });
  const lines = Array.from({ length: 250 }, (_, i) => ({ session: 'release-7', key: 'stdout', value: `step ${i}` }));
  assert.equal((await postNdjson(old.url, lines)).status, 200);
  await old.close();

  const usage = await runCli(['archive', '--before', '2026-02-30', '--data', dataDir]);
  assert.equal(usage.code, 2, usage.stderr);
  assert.match(usage.stderr, /expected a date as YYYY-MM-DD/);
  const future = await runCli(['archive', '--before', '2999-01-01', '--data', dataDir]);
  assert.equal(future.code, 1);
  assert.match(future.stderr, /logsrv archive: cannot archive .* the server is writing it/);

  const archived = await runCli(['archive', '--before', '2026-10-06', '--data', dataDir]);
  assert.equal(archived.code, 0, archived.stderr);
  const file = join(dataDir, 'archive', 'events-20261005.db.gz');
  assert.match(archived.stdout, /^archived 2026-10-05: 250 events, [\d.]+ MB → .*events-20261005\.db\.gz \([\d.]+ MB\)\n$/);
  assert.ok(existsSync(file) && !existsSync(join(dataDir, 'events-20261005.db')));
  const none = await runCli(['archive', '--before', '2026-10-06', '--data', dataDir]);
  assert.equal(none.code, 0);
  assert.match(none.stderr, /nothing to archive: no day before 2026-10-06/);

  const restored = await runCli(['restore', file, '--data', dataDir]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /^restored 2026-10-05: 250 events from .* → .*events-20261005\.db\n$/);
  const twice = await runCli(['restore', file, '--data', dataDir]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /logsrv restore: 2026-10-05 is already in .*: archive or move that file away first/);

  const server = await startServer(t, { dataDir });
  const events = await readAll(server.url, 'release-7');
  assert.deepEqual(
    events.map((e) => e.value),
    lines.map((l) => l.value),
  );
});
