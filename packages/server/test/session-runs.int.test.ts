/**
 * A session's events read through its runs (store/sqlite/session-runs.ts, read-session.ts) over
 * real SQLite: contiguous, dense and sparse interleavings over several batches and two day files,
 * every page size forwards and backwards, key/step filters, JSON and NDJSON bytes equal to the
 * generic renderer's — and day files of the layout before runs (day schema 3), read as they are
 * and migrated at the next start. Plain pages come from the session chunks
 * (store/sqlite/session-chunks.ts) where a day has them: the same bytes, also when a page
 * straddles their watermark, when a cursor falls inside a chunk, and beside a day without chunks.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { isCompacted } from '../src/store/sqlite/compact-chunks.ts';
import { DAY_SCHEMA_VERSION } from '../src/store/sqlite/day-index.ts';
import { runScanSql } from '../src/store/sqlite/read-session.ts';
import { CHUNK_TABLE_V1 } from '../src/store/sqlite/session-chunks.ts';
import type { TestServer } from './helpers.ts';
import { ndjson, post, rng, startTestServer, text, threadNice } from './helpers.ts';

const T = { timeout: 180_000 };
const MIDNIGHT = Date.UTC(2026, 10, 23);

/** Values whose JSON escapes must be JSON.stringify's. */
const TRICKY = [
  'plain',
  'quote " and \\ backslash',
  'tab\tnew\nline\r\u0000\u001f\u007f',
  'ünïcødé ✓ 😀 \u2028\u2029',
  '\u001b[31mred\u001b[0m',
  '</script>',
  '',
];

function eventOf(session: string, n: number, r: () => number): Record<string, unknown> {
  const e: Record<string, unknown> = { session, key: n % 5 === 0 ? 'status' : 'stdout', value: `${TRICKY[n % TRICKY.length]} #${n}` };
  if (n % 7 === 0) e.value = { n, nested: { list: [1, 2.5, -0, 'x"y'], ok: true }, '10': 'int key' };
  if (n % 4 === 0) e.step = n % 8 === 0 ? 'build' : 'test';
  if (n % 6 === 0) Object.assign(e, { component: 'api', level: 'warn', user: 'ünï', terminal: 'tty"1' });
  if (n % 9 === 0) e.attrs = { a: n, b: 'ö\n' };
  if (n % 11 === 0) e.ts = new Date(Date.UTC(2026, 0, 1) + Math.floor(r() * 1e9)).toISOString();
  return e;
}

/**
 * An event of ASCII only: its chunks are read as strings (read-session-chunks.ts TEXT_SCAN), the
 * other sessions' (with non-ASCII values) as bytes.
 */
function asciiEventOf(session: string, n: number): Record<string, unknown> {
  const e: Record<string, unknown> = { session, key: n % 5 === 0 ? 'status' : 'stdout', value: `ascii "quoted" \\ line\t#${n}` };
  if (n % 7 === 0) e.value = { n, list: [1, 2.5, 'x"y'], ok: true };
  if (n % 4 === 0) e.step = n % 8 === 0 ? 'build' : 'test';
  if (n % 6 === 0) Object.assign(e, { component: 'api', level: 'warn', user: 'ana', terminal: 'tty1' });
  if (n % 9 === 0) e.attrs = { a: n };
  return e;
}

/**
 * Batches mixing sessions `a`, `b`, `c`, `d`, `e`: `a` in long runs, alternating with `b` one event at
 * a time (a dense entry), and one `a` among ten `c` (a sparse one); `d` in one run per batch; `b`
 * mostly one event at a time (no entries: read by index); `e` in runs of ASCII-only events.
 */
function batches(): Record<string, unknown>[][] {
  const r = rng(14);
  const n: Record<string, number> = { a: 0, b: 0, c: 0, d: 0, e: 0 };
  const ev = (s: string) => eventOf(s, n[s]++ as number, r);
  const out: Record<string, unknown>[][] = [];
  for (let b = 0; b < 4; b++) {
    const batch: Record<string, unknown>[] = [];
    for (let i = 0; i < 30; i++) batch.push(ev('a'));
    for (let i = 0; i < 20; i++) batch.push(ev(i % 2 === 0 ? 'a' : 'b'));
    for (let i = 0; i < 44; i++) batch.push(ev(i % 11 === 0 ? 'a' : 'c'));
    for (let i = 0; i < 5; i++) batch.push(ev('b'));
    for (let i = 0; i < 10; i++) batch.push(ev('d'));
    for (let i = 0; i < 12; i++) batch.push(asciiEventOf('e', n.e++ as number));
    out.push(batch);
  }
  return out;
}

/** Sends the batches, the first half before midnight and the rest after it. */
async function fill(dataDir: string): Promise<void> {
  let now = MIDNIGHT - 60_000;
  const srv = await startTestServer({}, { dataDir, clock: () => now });
  try {
    const all = batches();
    for (const [i, b] of all.entries()) {
      if (i === all.length / 2) now = MIDNIGHT + 60_000;
      const r = await post(srv.url, ndjson(b));
      assert.equal(r.json.accepted, b.length);
    }
  } finally {
    await srv.close();
  }
}

/** Every way of reading a session agrees with /v1/events?session= (read through the index, rendered by JSON.stringify). */
async function checkReads(srv: TestServer, session: string): Promise<void> {
  const base = `${srv.url}/v1/sessions/${session}/events`;
  const expectedPage = JSON.parse(await text(`${srv.url}/v1/events?session=${session}&limit=10000`));
  const all: any[] = expectedPage.events;
  assert.ok(all.length >= 40, `${session}: ${all.length} events`);
  assert.equal(await text(`${base}?limit=10000`), JSON.stringify({ events: all, next: null }), 'json bytes');
  assert.equal(
    await text(`${base}?limit=10000&format=ndjson`),
    await text(`${srv.url}/v1/events?session=${session}&limit=10000&format=ndjson`),
    'ndjson bytes',
  );
  for (const limit of [1, 3, 29, 1000]) {
    // Forwards: pages after each cursor.
    const got: any[] = [];
    let after = '';
    for (let pages = 0; ; pages++) {
      assert.ok(pages <= all.length, 'paging forwards ends');
      const p = JSON.parse(await text(`${base}?limit=${limit}${after ? `&after=${after}` : ''}`));
      assert.ok(p.events.length <= limit);
      got.push(...p.events);
      if (p.next === null) break;
      assert.equal(p.next, p.events.at(-1).id);
      after = p.next;
    }
    assert.deepEqual(got, all, `${session} forwards, limit ${limit}`);
    // Backwards: pages before each cursor.
    const back: any[] = [];
    let before = `${MIDNIGHT + 86_400_000}-0`;
    for (let pages = 0; ; pages++) {
      assert.ok(pages <= all.length, 'paging backwards ends');
      const p = JSON.parse(await text(`${base}?limit=${limit}&before=${before}`));
      back.unshift(...p.events);
      if (p.prev === null) break;
      assert.equal(p.prev, p.events[0].id);
      before = p.prev;
    }
    assert.deepEqual(back, all, `${session} backwards, limit ${limit}`);
  }
  // A cursor on every event: what follows it, and the page just before it.
  for (let i = 0; i < all.length; i += 5) {
    const p = JSON.parse(await text(`${base}?limit=5&after=${all[i].id}`));
    assert.deepEqual(p.events, all.slice(i + 1, i + 6), `after #${i}`);
    const q = JSON.parse(await text(`${base}?limit=5&before=${all[i].id}`));
    assert.deepEqual(q.events, all.slice(Math.max(0, i - 5), i), `before #${i}`);
  }
  for (const [qs, keep] of [
    ['key=status', (e: any) => e.key === 'status'],
    ['step=build', (e: any) => e.step === 'build'],
    ['key=stdout&step=test', (e: any) => e.key === 'stdout' && e.step === 'test'],
  ] as const) {
    const want = all.filter(keep);
    assert.ok(want.length > 0, qs);
    for (const limit of [1, 4, 1000]) {
      const got: any[] = [];
      let after = '';
      for (let pages = 0; ; pages++) {
        assert.ok(pages <= all.length, 'paging ends');
        const p = JSON.parse(await text(`${base}?limit=${limit}&${qs}${after ? `&after=${after}` : ''}`));
        got.push(...p.events);
        if (p.next === null) break;
        after = p.next;
      }
      assert.deepEqual(got, want, `${session} ${qs}, limit ${limit}`);
    }
    const last = JSON.parse(await text(`${base}?limit=2&${qs}&before=${all.at(-1).id}`));
    assert.deepEqual(last.events, want.filter((e) => e.id !== all.at(-1).id).slice(-2), `${session} ${qs} before the last`);
  }
}

/** The nice value of each thread of this process. */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map(threadNice);
}

/** A day file's session chunk file (session-chunks.ts). */
const chunkFileOf = (f: string) => f.replace(/\.db$/, '.sess.db');

/** The chunk file's watermark and the day file's last rowid. */
function chunkState(f: string): { built: number; last: number; chunks: number } {
  const db = new Database(f, { readonly: true });
  const sc = new Database(chunkFileOf(f), { readonly: true });
  try {
    return {
      built: sc.prepare('SELECT built FROM chunk_state').pluck().get() as number,
      chunks: sc.prepare('SELECT count(*) FROM chunks').pluck().get() as number,
      last: db.prepare('SELECT max(rowid) FROM events').pluck().get() as number,
    };
  } finally {
    db.close();
    sc.close();
  }
}

/** Whether a chunk file's `chunks` is the first layout's WITHOUT ROWID table, and whether it has the index of the current one. */
function chunkLayout(f: string): { withoutRowid: boolean; index: boolean } {
  const sc = new Database(chunkFileOf(f), { readonly: true });
  try {
    const sql = sc.prepare("SELECT sql FROM sqlite_master WHERE name = 'chunks'").pluck().get() as string;
    const index = sc.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'chunks_session'").get() !== undefined;
    return { withoutRowid: /WITHOUT ROWID/i.test(sql), index };
  } finally {
    sc.close();
  }
}

function dayFiles(dataDir: string): string[] {
  return readdirSync(dataDir)
    .filter((f) => /^events-\d{8}\.db$/.test(f))
    .sort()
    .map((f) => join(dataDir, f));
}

describe('session runs', () => {
  test('a session interleaved with others reads the same through its runs, every page size, both directions, filtered', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-runs-'));
    try {
      await fill(dataDir);
      const files = dayFiles(dataDir);
      assert.equal(files.length, 2);
      for (const f of files) {
        const db = new Database(f, { readonly: true });
        assert.equal(db.pragma('user_version', { simple: true }), DAY_SCHEMA_VERSION);
        // `a` has one entry per batch; its runs within a batch are many (the dense and sparse parts).
        const entries = db.prepare("SELECT lo, hi, runs FROM session_runs WHERE session = 'a' ORDER BY lo").all() as {
          lo: number;
          hi: number;
          runs: Buffer | null;
        }[];
        assert.equal(entries.length, 2);
        for (const e of entries) assert.ok(e.runs !== null && e.runs.length > 8);
        assert.equal(db.prepare("SELECT count(*) FROM session_runs WHERE session = 'd' AND runs IS NULL").pluck().get(), 2, 'one run: no blob');
        // `b`'s rows are mostly single, between `a`'s: no entries, read by index.
        assert.equal(db.prepare("SELECT count(*) FROM session_runs WHERE session = 'b'").pluck().get(), 0);
        // A run is read as a rowid range, with or without filters: on the session index instead,
        // each run would walk all the session's entries (a key-filtered read of a 754k-event
        // session took 37–60 s that way).
        for (const q of [{}, { key: 'status' }, { step: 'build' }, { key: 'status', step: 'build' }]) {
          for (const dir of ['>', '<'] as const) {
            const sql = runScanSql('ms, seq, value', q, dir);
            const args = [1, 100, 'a', ...Object.values(q), 10];
            const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('; ');
            assert.match(plan, /^SEARCH events USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)$/, `${JSON.stringify(q)} ${dir}: ${plan}`);
          }
        }
        db.close();
        // A clean stop leaves every row in the session chunks: the reads below come from them.
        const st = chunkState(f);
        assert.equal(st.built, st.last, 'chunks up to the last row');
        assert.ok(st.chunks >= 4, `${st.chunks} chunks`);
        assert.deepEqual(chunkLayout(f), { withoutRowid: false, index: true }, 'a new file: a rowid table and its index');
      }
      const srv = await startTestServer({}, { dataDir, clock: () => MIDNIGHT + 120_000 });
      try {
        for (const s of ['a', 'b', 'c', 'd']) await checkReads(srv, s);
      } finally {
        await srv.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('day files written before session runs (day schema 3) are read by index, then migrated at the next start', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-runs-v3-'));
    try {
      await fill(dataDir);
      // Nor had they session chunks: read from the day files alone.
      for (const f of dayFiles(dataDir)) for (const suffix of ['', '-wal', '-shm']) rmSync(`${chunkFileOf(f)}${suffix}`, { force: true });
      const srv = await startTestServer({}, { dataDir, clock: () => MIDNIGHT + 120_000 });
      try {
        // The layout of version 3, under a running server: its readers fall back to the index.
        for (const f of dayFiles(dataDir)) {
          const db = new Database(f);
          db.exec('DROP TABLE session_runs; PRAGMA user_version = 3;');
          db.close();
        }
        for (const s of ['a', 'b']) await checkReads(srv, s);
      } finally {
        await srv.close();
      }
      const again = await startTestServer({}, { dataDir, clock: () => MIDNIGHT + 120_000 });
      try {
        for (const f of dayFiles(dataDir)) {
          const db = new Database(f, { readonly: true });
          assert.equal(db.pragma('user_version', { simple: true }), DAY_SCHEMA_VERSION, 'migrated');
          const partial = db
            .prepare('SELECT count(*) FROM session_summary s WHERE (SELECT sum(n) FROM session_runs r WHERE r.session = s.session) != s.count')
            .pluck()
            .get();
          assert.equal(partial, 0, 'a session with entries has all its rows in them');
          assert.equal(db.prepare("SELECT sum(n) FROM session_runs WHERE session = 'a'").pluck().get(), 88, 'built for `a`');
          db.close();
        }
        for (const s of ['a', 'b', 'c']) await checkReads(again, s);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('plain pages from session chunks: across their watermark, beside a day without chunks, rebuilt after a restart', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-chunks-'));
    try {
      await fill(dataDir);
      const [day1, day2] = dayFiles(dataDir) as [string, string];
      // The first day as written before chunks existed.
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${chunkFileOf(day1)}${suffix}`, { force: true });
      const before = chunkState(day2);
      // Chunks written only after an hour: what this server gets stays past the watermark.
      const srv = await startTestServer({ sessionChunkFlushMs: 3_600_000 }, { dataDir, clock: () => MIDNIGHT + 120_000 });
      try {
        for (const b of batches()) assert.equal((await post(srv.url, ndjson(b))).json.accepted, b.length);
        const st = chunkState(day2);
        assert.equal(st.built, before.built, 'watermark unchanged');
        assert.ok(st.last > st.built + 200, `rows after the watermark: ${st.last - st.built}`);
        assert.equal(existsSync(chunkFileOf(day1)), false, 'no chunks for a day written before them');
        // The lag is visible: every row past the watermark, in /healthz and /metrics.
        const health = JSON.parse(await text(`${srv.url}/healthz`));
        assert.equal(health.sessionChunksLagRows, st.last - st.built);
        assert.match(await text(`${srv.url}/metrics`), new RegExp(`^logsrv_session_chunks_lag_rows ${st.last - st.built}$`, 'm'));
        for (const s of ['a', 'b', 'c', 'd', 'e']) await checkReads(srv, s);
        // The chunk thread runs at the lowest priority: one thread of this process has nice 19.
        assert.ok(threadNices().includes(19), `nice values of this process's threads: ${threadNices().join(' ')}`);
      } finally {
        await srv.close();
      }
      // Stopped cleanly: the rest is in chunks now; a kill -9 would have lost only what the
      // thread rebuilds from the watermark at the next start (the previous server's rows here).
      const st = chunkState(day2);
      assert.equal(st.built, st.last);
      const again = await startTestServer({}, { dataDir, clock: () => MIDNIGHT + 180_000 });
      try {
        for (const s of ['a', 'c', 'e']) await checkReads(again, s);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('chunk files of the first layout (a WITHOUT ROWID table) are written and read as they are', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-chunks-v1-'));
    try {
      // The two days' chunk files as the first layout's writer created them, before their first row.
      const days = ['20261122', '20261123'];
      for (const day of days) {
        const sc = new Database(join(dataDir, `events-${day}.sess.db`));
        sc.pragma('journal_mode = WAL');
        sc.exec(`${CHUNK_TABLE_V1}
          CREATE TABLE chunk_state (id INTEGER PRIMARY KEY CHECK (id = 1), built INTEGER NOT NULL);
          INSERT INTO chunk_state (id, built) VALUES (1, 0);`);
        sc.close();
      }
      await fill(dataDir);
      const files = dayFiles(dataDir);
      assert.deepEqual(
        files.map((f) => f.slice(-11, -3)),
        days,
      );
      const [day1, day2] = files as [string, string];
      for (const f of files) {
        const st = chunkState(f);
        assert.equal(st.built, st.last, 'chunks up to the last row');
        assert.ok(st.chunks >= 4, `${st.chunks} chunks`);
        // Day 1 is complete once the writer is on day 2: compacted (into the current layout) if
        // the chunk thread got to it before the server closed.
        if (f === day1 && isCompacted(chunkFileOf(f))) continue;
        assert.deepEqual(chunkLayout(f), { withoutRowid: true, index: false }, 'the layout kept, no index added');
      }
      const srv = await startTestServer({ sessionChunkFlushMs: 3_600_000 }, { dataDir, clock: () => MIDNIGHT + 120_000 });
      try {
        // Day 1, complete, is compacted by this server's chunk thread: the current layout.
        for (let i = 0; !isCompacted(chunkFileOf(day1)); i++) {
          assert.ok(i < 600, 'day 1 compacted');
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(chunkLayout(day1), { withoutRowid: false, index: true }, 'compacted into the current layout');
        // Read from them, and past their watermark: rows this server has not written to chunks yet.
        for (const b of batches().slice(0, 2)) assert.equal((await post(srv.url, ndjson(b))).json.accepted, b.length);
        for (const s of ['a', 'b', 'c', 'd']) await checkReads(srv, s);
      } finally {
        await srv.close();
      }
      const st = chunkState(day2);
      assert.equal(st.built, st.last, 'added to at the clean stop');
      assert.deepEqual(chunkLayout(day2), { withoutRowid: true, index: false });
      const again = await startTestServer({}, { dataDir, clock: () => MIDNIGHT + 180_000 });
      try {
        for (const s of ['a', 'c']) await checkReads(again, s);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('--session-chunks off: new days get no chunk file, a day that has one stays exact past its watermark', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-nochunks-'));
    try {
      await fill(dataDir);
      const [, day2] = dayFiles(dataDir) as [string, string];
      const before = chunkState(day2);
      assert.equal(before.built, before.last);
      const srv = await startTestServer({ sessionChunks: 'off' }, { dataDir, clock: () => MIDNIGHT + 120_000 });
      try {
        // New rows of day2 (it has chunks): past its watermark, read from the day file.
        for (const b of batches().slice(0, 4)) assert.equal((await post(srv.url, ndjson(b))).json.accepted, b.length);
        const st = chunkState(day2);
        assert.equal(st.built, before.built, 'nothing adds to the chunks');
        assert.ok(st.last > st.built, 'rows past the watermark');
        assert.equal(JSON.parse(await text(`${srv.url}/healthz`)).sessionChunksLagRows, 0, 'no chunk thread, no lag');
        for (const s of ['a', 'b', 'c', 'd', 'e']) await checkReads(srv, s);
      } finally {
        await srv.close();
      }
      // A new day with chunks off gets none either.
      const fresh = mkdtempSync(join(tmpdir(), 'logsrv-nochunks-fresh-'));
      try {
        const srv2 = await startTestServer({ sessionChunks: 'off' }, { dataDir: fresh, clock: () => MIDNIGHT + 60_000 });
        try {
          for (const b of batches().slice(0, 4)) assert.equal((await post(srv2.url, ndjson(b))).json.accepted, b.length);
          await checkReads(srv2, 'a');
        } finally {
          await srv2.close();
        }
        const files = readdirSync(fresh);
        assert.ok(
          files.some((f) => /^events-\d{8}\.db$/.test(f)),
          files.join(' '),
        );
        assert.equal(files.filter((f) => f.endsWith('.sess.db')).length, 0, files.join(' '));
      } finally {
        rmSync(fresh, { recursive: true, force: true });
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
