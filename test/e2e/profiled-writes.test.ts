/**
 * A write waits for a lock another connection holds on its day file (a checkpoint, an archive)
 * for up to 5 s of wall-clock time, even in a server run under `node --cpu-prof`: SQLite's own
 * busy wait counts the sleeps it asked for, and the profiler's SIGPROF (every millisecond) ends
 * each early, so it gave up after ~70 ms and the request answered 500 ("database is locked").
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { json, postNdjson, readAll, startServer, tempDir, waitExit } from './helpers.js';

test('under node --cpu-prof a write waits out a lock held for 1 s instead of failing with 500', { timeout: 60_000 }, async (t) => {
  const profiles = tempDir(t, 'logsrv-e2e-prof-');
  const server = await startServer(t, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profiles}`] });
  const first = await postNdjson(server.url, [{ session: 'locked', key: 'stdout', value: 'before' }]);
  assert.equal(first.status, 200, first.text);
  const file = readdirSync(server.dataDir).find((f) => /^events-\d{8}\.db$/.test(f));
  assert.ok(file, 'the day file exists');
  const other = new Database(join(server.dataDir, file));
  t.after(() => other.close());
  other.pragma('busy_timeout = 5000');
  other.exec('BEGIN IMMEDIATE'); // the day file's write lock, as a checkpoint or an archive takes it
  const held = 1000;
  const release = new Promise<void>((resolve) =>
    setTimeout(() => {
      other.exec('COMMIT');
      resolve();
    }, held),
  );
  const t0 = performance.now();
  const second = await postNdjson(server.url, [{ session: 'locked', key: 'stdout', value: 'behind the lock' }]);
  const waited = performance.now() - t0;
  await release;
  assert.equal(second.status, 200, `answered ${second.status} after ${Math.round(waited)} ms: ${second.text}`);
  assert.equal(json<{ accepted: number }>(second).accepted, 1);
  assert.ok(waited >= held - 100, `the write waited for the lock: ${Math.round(waited)} ms`);
  assert.deepEqual(
    (await readAll(server.url, 'locked')).map((e) => e.value),
    ['before', 'behind the lock'],
  );
  // The server did run profiled: its threads' profiles are written when it exits.
  server.kill('SIGTERM');
  assert.equal((await waitExit(server, 15_000)).code, 0);
  assert.ok(readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile')).length >= 2, 'profiles of the main and writer threads');
});
