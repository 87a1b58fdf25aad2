/**
 * Compaction of a complete day's session chunks (store/sqlite/compact-chunks.ts), over a real
 * server and real SQLite files: a day written among other sessions, a chunk flush after every
 * request, then the writer moves to the next day and the chunk thread compacts the day it left.
 * Every page reads the same bytes before and after; each session's chunks are fewer and adjacent;
 * the watermark is kept. A compaction stopped halfway leaves the old file as it was, and the next
 * start compacts it and removes what the stopped one left. One whose file was replaced meanwhile
 * (its day archived and restored) leaves the new file alone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { ChunkCompactor, COMPACTED_LAYOUT, isCompacted } from '../src/store/sqlite/compact-chunks.ts';
import type { TestServer } from './helpers.ts';
import { ndjson, post, rng, startTestServer, text, until } from './helpers.ts';

const T = { timeout: 120_000 };
const MIDNIGHT = Date.UTC(2026, 10, 23);
const DAY1 = '20261122';
const SESSIONS = ['a', 'b', 'c', 'd', 'e'];

/** Values whose JSON escapes must survive the merge, and ASCII-only sessions (read as strings). */
function eventOf(session: string, n: number, r: () => number): Record<string, unknown> {
  const value = session === 'e' ? `ascii line #${n} ${'x'.repeat(Math.floor(r() * 40))}` : `ünï "q" \\ \t ✓ 😀 #${n}`;
  const e: Record<string, unknown> = { session, key: n % 5 === 0 ? 'status' : 'stdout', value };
  if (n % 7 === 0) e.value = { n, nested: [1, 'x"y'] };
  if (n % 4 === 0) e.step = 'build';
  return e;
}

/** Every way a plain page is read from chunks: whole, NDJSON, and page by page with cursors. */
async function pages(srv: TestServer): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const s of SESSIONS) {
    const base = `${srv.url}/v1/sessions/${s}/events`;
    const got = [await text(`${base}?limit=10000`), await text(`${base}?limit=10000&format=ndjson`)];
    let after = '';
    for (let n = 0; ; n++) {
      assert.ok(n < 1000, 'paging ends');
      const body = await text(`${base}?limit=7${after ? `&after=${after}` : ''}`);
      got.push(body);
      const next = JSON.parse(body).next as string | null;
      if (next === null) break;
      after = next;
    }
    out[s] = got;
  }
  return out;
}

const dayFile = (dataDir: string) => join(dataDir, `events-${DAY1}.db`);
const chunkFile = (dataDir: string) => join(dataDir, `events-${DAY1}.sess.db`);

/** The day's chunks as stored: per session, the rowids of its chunks in the table, and the watermark. */
function chunkTable(dataDir: string): { built: number; rowids: Record<string, number[]>; version: number } {
  const db = new Database(chunkFile(dataDir), { readonly: true });
  try {
    const rowids: Record<string, number[]> = {};
    for (const { session, rowid } of db.prepare('SELECT session, rowid FROM chunks ORDER BY session, first').all() as { session: string; rowid: number }[]) {
      rowids[session] = [...(rowids[session] ?? []), rowid];
    }
    return {
      built: db.prepare('SELECT built FROM chunk_state').pluck().get() as number,
      rowids,
      version: db.pragma('user_version', { simple: true }) as number,
    };
  } finally {
    db.close();
  }
}

function lastRowid(dataDir: string): number {
  const db = new Database(dayFile(dataDir), { readonly: true });
  try {
    return db.prepare('SELECT max(rowid) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
}

/**
 * Writes day 1 through `srv` in 12 requests mixing the sessions, each followed by a chunk flush
 * (sessionChunkFlushMs 10): each session gets a chunk per request, between the others'.
 */
async function fillDay(srv: TestServer): Promise<void> {
  const r = rng(5);
  const n: Record<string, number> = {};
  for (let b = 0; b < 12; b++) {
    const batch: Record<string, unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      const s = SESSIONS[Math.floor(r() * SESSIONS.length)] as string;
      n[s] = (n[s] ?? 0) + 1;
      batch.push(eventOf(s, n[s] as number, r));
    }
    assert.equal((await post(srv.url, ndjson(batch))).json.accepted, batch.length);
    await until('the chunk watermark', () => chunkTable(srv.dataDir).built === lastRowid(srv.dataDir), 30_000);
  }
}

const hash = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const leftovers = (dataDir: string) => readdirSync(dataDir).filter((f) => f.startsWith('.compact-'));

test('a day left complete has its chunks compacted: the same pages, fewer chunks per session, adjacent, the same watermark', T, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-compact-'));
  let now = MIDNIGHT - 3_600_000;
  const srv = await startTestServer({ sessionChunkFlushMs: 10 }, { dataDir, clock: () => now });
  try {
    await fillDay(srv);
    const before = chunkTable(dataDir);
    assert.equal(before.version, 0, 'not compacted while the day is written');
    for (const s of SESSIONS) assert.ok((before.rowids[s]?.length ?? 0) >= 8, `${s}: a chunk per request (${before.rowids[s]?.length})`);
    const read = await pages(srv);

    // The writer moves to the next day: the chunk thread leaves day 1, complete, and compacts it.
    now = MIDNIGHT + 60_000;
    assert.equal((await post(srv.url, ndjson([{ session: 'zz', key: 'stdout', value: 'day 2' }]))).status, 200);
    await until('the compaction', () => isCompacted(chunkFile(dataDir)), 30_000);

    const after = chunkTable(dataDir);
    assert.equal(after.version, COMPACTED_LAYOUT);
    assert.equal(after.built, before.built, 'watermark kept');
    let next = 1;
    for (const s of [...SESSIONS].sort()) {
      const ids = after.rowids[s] as number[];
      assert.ok(ids.length < (before.rowids[s] as number[]).length, `${s}: ${ids.length} chunks, were ${before.rowids[s]?.length}`);
      // Sessions in order, each one's chunks one after the other in the table.
      assert.deepEqual(
        ids,
        ids.map((_, i) => next + i),
        `${s}: adjacent`,
      );
      next += ids.length;
    }
    const again = await pages(srv);
    for (const s of SESSIONS) assert.deepEqual(again[s], read[s], `${s}: the same bytes`);
    assert.deepEqual(leftovers(dataDir), [], 'no temporary file left');
  } finally {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a compaction stopped halfway leaves the file as it was; the next start compacts it and removes what was left', T, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-compact-'));
  try {
    const srv = await startTestServer({ sessionChunkFlushMs: 10 }, { dataDir, clock: () => MIDNIGHT - 3_600_000 });
    let read: Record<string, string[]>;
    try {
      await fillDay(srv);
      read = await pages(srv);
    } finally {
      await srv.close();
    }
    const file = chunkFile(dataDir);
    const was = hash(file);
    assert.equal(existsSync(`${file}-wal`) && readFileSync(`${file}-wal`).length > 0, false, 'checkpointed at close');

    // Stopped after a step of 1 KB: its file goes, the old one is untouched.
    const c = new ChunkCompactor(file);
    assert.equal(c.step(1024), false);
    assert.ok(existsSync(c.tmp), 'the new file is written beside the old one');
    c.abandon();
    assert.equal(existsSync(c.tmp), false);
    assert.equal(hash(file), was, 'the old file as it was');
    assert.equal(isCompacted(file), false);

    // The day archived and restored while it was compacted: another file (another inode) is at
    // the path, open in WAL mode. The compaction of the old one puts nothing in its place and
    // leaves its WAL alone.
    const replaced = new ChunkCompactor(file);
    assert.equal(replaced.step(1024), false);
    const restoredCopy = join(dataDir, 'restored.sess.db');
    copyFileSync(file, restoredCopy);
    renameSync(restoredCopy, file);
    const user = new Database(file);
    try {
      user.pragma('journal_mode = WAL');
      user.prepare('SELECT count(*) FROM chunks').get(); // its -wal and -shm now exist and are in use
      while (!replaced.step());
      assert.equal(replaced.finish(), false, 'not put in place');
      assert.equal(existsSync(replaced.tmp), false, 'its new file removed');
      assert.ok(existsSync(`${file}-wal`) && existsSync(`${file}-shm`), "the restored file's WAL is left alone");
      assert.equal(isCompacted(file), false, 'the restored file is the one at the path');
    } finally {
      user.close();
    }
    assert.equal(hash(file), was, 'the restored file as it was');

    // As if killed: a temporary file stays behind. The next start removes it, and compacts the
    // day once the writer has moved on.
    writeFileSync(join(dataDir, `.compact-events-${DAY1}.sess.db.1.2.tmp`), 'partial');
    const again = await startTestServer({ sessionChunkFlushMs: 10 }, { dataDir, clock: () => MIDNIGHT + 60_000 });
    try {
      assert.equal((await post(again.url, ndjson([{ session: 'zz', key: 'stdout', value: 'day 2' }]))).status, 200);
      await until('the compaction', () => isCompacted(file), 30_000);
      assert.deepEqual(leftovers(dataDir), []);
      const after = await pages(again);
      for (const s of SESSIONS) assert.deepEqual(after[s], read[s], `${s}: the same bytes`);
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
