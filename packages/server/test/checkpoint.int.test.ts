/**
 * WAL checkpoints of the SQLite store run on their own thread (store/sqlite/checkpoint-worker.ts),
 * not inside the writer's commits: committed pages reach the database file itself while the
 * store is open, and close still leaves no WAL behind.
 */
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
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

/**
 * A store without index or chunk threads: a step of theirs starved by a busy machine holds its
 * read snapshot, and a checkpoint copies nothing past it, nor restarts the WAL (their own tests
 * cover them). `commit(rows)` appends that many events to one day, the n-th (from 0) `text(n)`.
 */
function storeWithoutFollowers(dir: string, text: (n: number) => string) {
  const store = new SqliteStore({ dataDir: dir, readerThreads: 1, synchronous: 'normal', searchIndex: false, sessionChunks: false });
  const ms = Date.UTC(2026, 0, 2, 3, 4, 5);
  let n = 0;
  const commit = (rows: number) =>
    store.append({
      events: Array.from({ length: rows }, () => ev('s', text(n++), { key: 'stdout' })),
      ms: new Float64Array(rows).fill(ms + n),
      seq: new Float64Array(rows).map((_, k) => k),
    });
  return { store, commit, committed: () => n };
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
    // The checkpoint thread runs within CHECKPOINT_MAX_MS (10 s) of a commit.
    let n = 0;
    for (let t = 0; t < 150 && n < 20; t++) {
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

test('small commits are checkpointed rarely (each full checkpoint makes the next commit fsync a new WAL header), big ones as before', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-ckpt-'));
  const { store, commit, committed } = storeWithoutFollowers(dir, (n) => `line ${n}`);
  try {
    await commit(1);
    const file = readdirSync(dir).find((f) => f.startsWith('events-') && f.endsWith('.db')) as string;
    for (let t = 0; t < 50 && rowsInMainFile(dir, file) < 1; t++) await sleep(100); // a new file's first checkpoint comes at once
    assert.equal(rowsInMainFile(dir, file), 1);
    // 200 one-row commits over ~2 s: more than the 64 commits that made a round before, fewer
    // rows than CHECKPOINT_ROWS, less time than CHECKPOINT_MAX_MS: none reaches the file.
    for (let k = 0; k < 200; k++) {
      await commit(1);
      await sleep(10);
    }
    assert.equal(rowsInMainFile(dir, file), 1, 'no checkpoint for 200 small commits');
    // 64 commits of 100 rows: once ≥ 64 commits hold ≥ 4096 rows since the last round, a round
    // runs at the next poll (100 ms), as every 64 commits before. Under load the poll can come
    // late, hence the wait; what reaches the file is at least everything up to that point.
    for (let k = 0; k < 64; k++) await commit(100);
    const due = 1 + 200 + 3900; // the 39th big commit's last row: 4100 rows in 239 commits since the first round
    let n = 0;
    for (let t = 0; t < 90 && n < due; t++) {
      await sleep(100);
      n = rowsInMainFile(dir, file);
    }
    assert.ok(n >= due, `big commits checkpointed: ${n} of ${committed()} rows in the file, ${due} at least`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The WAL file's size and its checkpoint sequence (header bytes 12-15: bumped by each restart), or null before it has a header. */
function walState(wal: string): { size: number; ckpt: number } | null {
  let fd: number;
  try {
    fd = openSync(wal, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(16);
    if (size < 32 || readSync(fd, head, 0, 16, 0) < 16) return { size, ckpt: -1 };
    return { size, ckpt: head.readUInt32BE(12) };
  } finally {
    closeSync(fd);
  }
}

test('under sustained writes the WAL is bounded and written over from its start, its file kept (RESTART), and cut back once writes stop', {
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-ckpt-'));
  const value = 'x'.repeat(1000);
  const { store, commit, committed } = storeWithoutFollowers(dir, (n) => `${n} ${value}`);
  const RESTART_BYTES = 8192 * 4096; // RESTART_WAL_PAGES
  try {
    await commit(1);
    const file = readdirSync(dir).find((f) => f.startsWith('events-') && f.endsWith('.db')) as string;
    const wal = join(dir, `${file}-wal`);
    const seen: { size: number; ckpt: number }[] = [];
    let writing = true;
    const sampler = (async () => {
      while (writing) {
        const s = walState(wal);
        if (s) seen.push(s);
        await sleep(2);
      }
    })();
    // Writes until the WAL has started over three times after reaching the restart size (~100 MB
    // of frames), or 60 s.
    const deadline = Date.now() + 60_000;
    const restartsAfterFull = () => {
      const at = seen.findIndex((s) => s.size >= RESTART_BYTES);
      return at < 0 ? 0 : new Set(seen.slice(at).map((s) => s.ckpt)).size - 1;
    };
    while (restartsAfterFull() < 3 && Date.now() < deadline) await commit(500);
    writing = false;
    await sampler;
    const full = seen.findIndex((s) => s.size >= RESTART_BYTES);
    assert.ok(full >= 0, 'the WAL reached the restart size');
    assert.ok(restartsAfterFull() >= 3, `the WAL started over while written: checkpoint sequences ${[...new Set(seen.map((s) => s.ckpt))].join(', ')}`);
    const after = seen.slice(full);
    const smallest = Math.min(...after.map((s) => s.size));
    assert.ok(smallest >= RESTART_BYTES, `its file was never cut back under the writer: ${smallest} bytes at least ${RESTART_BYTES}`);
    // How large it grows between restarts is not bounded by a number: a RESTART that does not find
    // the writer between two of these back-to-back commits within 50 ms acts as a passive one, and
    // the next round (100 ms later) tries again (seen: 151 MB once in three runs). What bounds it
    // is that it does start over, asserted above.
    // Idle: cut back within IDLE_TRUNCATE_MS (15 s) of the last commit, plus a poll.
    let size = -1;
    for (let t = 0; t < 300 && size !== 0; t++) {
      await sleep(100);
      size = walState(wal)?.size ?? -1;
    }
    assert.equal(size, 0, 'the WAL file is cut back once the writer is idle');
  } finally {
    await store.close();
  }
  try {
    const db = new Database(join(dir, readdirSync(dir).find((f) => f.startsWith('events-') && f.endsWith('.db')) as string), { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n, committed(), 'every committed row is stored');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
