/**
 * Retention by whole days (SPEC §4 archive/restore, §6): days leave the store for compressed
 * archives and come back, while the server runs and serves reads; `--retention-days` does the
 * same on its own. Everything is checked through the HTTP API of a real server.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ArchiveError, archiveDays, restoreArchive } from '@logsrv/server/archive';
import { isCompacted } from '../src/store/sqlite/compact-chunks.ts';
import { ndjson, post, readAll, startTestServer, until } from './helpers.ts';

const DAY_MS = 86_400_000;
const NOV1 = Date.UTC(2026, 10, 1, 12);

async function sessionNames(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/sessions?limit=1000`);
  return ((await res.json()) as { sessions: { session: string }[] }).sessions.map((s) => s.session).sort();
}

test('archive moves old days out of a running server, and restore brings them back with the same ids', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-archive-'));
  let now = NOV1;
  const srv = await startTestServer({}, { dataDir, clock: () => now });
  try {
    const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ session: 'build-1', key: 'stdout', value: `line ${from + i}` }));
    assert.equal((await post(srv.url, ndjson([...lines(0, 500), { session: 'nov1-only', key: 'k', value: 1 }]))).status, 200);
    now = NOV1 + 2 * DAY_MS;
    assert.equal((await post(srv.url, ndjson(lines(500, 300)))).status, 200);
    const before = await readAll(srv.url, 'build-1');
    assert.equal(before.length, 800, 'both days are read (the reader has the first day open)');
    assert.deepEqual(await sessionNames(srv.url), ['build-1', 'nov1-only']);

    // The server compacts day 1's chunks now that it writes day 3: once done, any `.compact-`
    // file seen below is restore's (a compaction the archive overtakes is compact-chunks.int's).
    const day1Chunks = join(dataDir, 'events-20261101.sess.db');
    await until('day 1 compacted by the server', () => existsSync(day1Chunks) && isCompacted(day1Chunks), 30_000);
    await assert.rejects(archiveDays(dataDir, '20261104', '20261103'), (err: Error) => err instanceof ArchiveError && /writing it/.test(err.message));
    const archived = await archiveDays(dataDir, '20261103', '20261103');
    assert.deepEqual(
      archived.map((d) => [d.day, d.events]),
      [['20261101', 501]],
    );
    const file = archived[0]?.file as string;
    assert.ok(existsSync(file) && !existsSync(join(dataDir, 'events-20261101.db')), 'the day left the store for its archive');
    assert.ok((archived[0]?.archiveBytes ?? 0) > 0 && (archived[0]?.archiveBytes ?? 0) < (archived[0]?.bytes ?? 0));

    const after = await readAll(srv.url, 'build-1');
    assert.deepEqual(
      after.map((e) => e.value),
      before.slice(500).map((e) => e.value),
      'only the day left in the store is served',
    );
    assert.deepEqual(await sessionNames(srv.url), ['build-1']);
    assert.deepEqual(await archiveDays(dataDir, '20261103', '20261103'), [], 'nothing left to archive');

    const restored = await restoreArchive(dataDir, file);
    assert.deepEqual([restored.day, restored.events], ['20261101', 501]);
    // Its session chunks are built and compacted before the day appears (the day is complete).
    assert.equal(isCompacted(join(dataDir, 'events-20261101.sess.db')), true, 'restored chunks compacted');
    assert.deepEqual(
      readdirSync(dataDir).filter((f) => f.startsWith('.')),
      [],
      'no temporary file left',
    );
    const again = await readAll(srv.url, 'build-1');
    assert.deepEqual(
      again.map((e) => [e.id, e.value]),
      before.map((e) => [e.id, e.value]),
      'restored events come back whole, with their ids',
    );
    assert.deepEqual(await sessionNames(srv.url), ['build-1', 'nov1-only']);
    await assert.rejects(restoreArchive(dataDir, file), (err: Error) => err instanceof ArchiveError && /already in/.test(err.message));

    // Writing goes on meanwhile, on today's file.
    assert.equal((await post(srv.url, ndjson(lines(800, 1)))).status, 200);
    assert.equal((await readAll(srv.url, 'build-1')).length, 801);
  } finally {
    await srv.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('restore refuses what is not an archive, with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-restore-'));
  try {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['plain.db.gz', Buffer.from('not gzip at all'), /not a logsrv archive/],
      ['text.db.gz', gzipSync('hello, this is no database'), /does not hold an SQLite database|not a logsrv day file/],
    ];
    for (const [name, bytes, reason] of cases) {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      await assert.rejects(restoreArchive(join(dir, 'data'), file), (err: Error) => err instanceof ArchiveError && reason.test(err.message), name);
    }
    await assert.rejects(restoreArchive(join(dir, 'data'), join(dir, 'missing.db.gz')), /no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--retention-days archives the days before the kept ones at start, and keeps the rest', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-retention-'));
  let now = NOV1;
  let srv = await startTestServer({}, { dataDir, clock: () => now });
  try {
    await post(srv.url, ndjson([{ session: 'old', key: 'k', value: 'nov 1' }]));
    now = NOV1 + 2 * DAY_MS;
    await post(srv.url, ndjson([{ session: 'kept', key: 'k', value: 'nov 3' }]));
    await srv.close();
    now = NOV1 + 3 * DAY_MS; // Nov 4: with 1 day kept before today, Nov 3 stays and Nov 1 goes
    srv = await startTestServer({ retentionDays: 1 }, { dataDir, clock: () => now });
    // The archive is complete before the day leaves the store: wait for both steps.
    await until(
      'the archive of Nov 1, then the day file gone',
      () => existsSync(join(dataDir, 'archive', 'events-20261101.db.gz')) && !existsSync(join(dataDir, 'events-20261101.db')),
    );
    assert.ok(existsSync(join(dataDir, 'events-20261103.db')));
    assert.deepEqual(await sessionNames(srv.url), ['kept']);
    assert.equal((await readAll(srv.url, 'old')).length, 0);
  } finally {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
