/**
 * WAL checkpoints of the SQLite store run on their own thread (store/sqlite/checkpoint-worker.ts),
 * not inside the writer's commits: committed pages reach the database file itself while the
 * store is open, and close still leaves no WAL behind.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore } from '@logsrv/server';
import Database from 'better-sqlite3';
import { ev } from './contract/events.ts';

/** Rows in the database file alone, without its WAL (a copy opened on its own). */
function rowsInMainFile(dir: string, file: string): number {
  const copy = join(dir, 'copy', 'events.db');
  rmSync(join(dir, 'copy'), { recursive: true, force: true });
  mkdirSync(join(dir, 'copy'));
  copyFileSync(join(dir, file), copy, 0);
  const db = new Database(copy, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } catch {
    return 0; // no events table in the file yet: nothing checkpointed
  } finally {
    db.close();
  }
}

test('committed events are checkpointed into the day file by the checkpoint thread, and close leaves no WAL', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-ckpt-'));
  const store = new SqliteStore({ dataDir: dir, readerThreads: 1, synchronous: 'normal' });
  try {
    const ms = Date.UTC(2026, 0, 2, 3, 4, 5);
    // Few, small commits: SQLite's automatic checkpoint (1000 WAL pages) would not run for these.
    for (let i = 0; i < 20; i++) {
      await store.append({ events: [ev('s', `line ${i}`, { key: 'stdout' })], ms: new Float64Array([ms + i]), seq: new Float64Array([0]) });
    }
    const file = readdirSync(dir).find((f) => f.startsWith('events-') && f.endsWith('.db')) as string;
    assert.ok(file, 'a day file was created');
    // The checkpoint thread runs within a second of a commit.
    let n = 0;
    for (let t = 0; t < 100 && n < 20; t++) {
      await sleep(100);
      n = rowsInMainFile(dir, file);
    }
    assert.equal(n, 20, 'every committed row is in the database file itself');
    assert.ok(existsSync(join(dir, `${file}-wal`)), 'the WAL is still in use while the store is open');
  } finally {
    await store.close();
  }
  try {
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('-wal') && f.startsWith('events-')),
      [],
      'close checkpointed and removed the WAL',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
