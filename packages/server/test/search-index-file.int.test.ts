/**
 * The full-text index in a file of its own per day, written by the index thread after the commit
 * (store/sqlite/index-file.ts): searches are exact whatever the index's lag (rows past its
 * watermark are scanned), the lag is reported and caught up after a restart, day files of schema
 * 3 (index inside the day file) are still searched and extended, archive and restore carry the
 * index with its day, and the writer holds back when the index falls too far behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MemoryQueue, SqliteStore, Writer } from '@logsrv/server';
import Database from 'better-sqlite3';
import { archiveDays, restoreArchive } from '../src/store/sqlite/archive.ts';
import { IndexProgress } from '../src/store/sqlite/index-file.ts';
import { ev } from './contract/events.ts';
import type { TestServer } from './helpers.ts';
import { ndjson, post, rng, startTestServer, until } from './helpers.ts';

const T = { timeout: 120_000 };
const WORDS = ['amber', 'basalt', 'cobalt', 'dune', 'ember', 'flint'];

async function send(url: string, events: object[]): Promise<void> {
  const r = await post(url, ndjson(events));
  assert.equal(r.status, 200, JSON.stringify(r.json));
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return res.json();
}

/** Values of every event of a search, in id order, paging by `limit`. */
async function search(url: string, params: Record<string, string>, path = '/v1/events'): Promise<string[]> {
  const out: string[] = [];
  let afterId = '';
  for (;;) {
    const qs = new URLSearchParams({ limit: '7', ...params, ...(afterId ? { after: afterId } : {}) });
    const page = await getJson(`${url}${path}?${qs}`);
    out.push(...page.events.map((e: any) => String(e.value)));
    if (!page.next) return out;
    afterId = page.next;
  }
}

/** `n` events over 4 sessions, each value a few of WORDS plus its number. */
function batch(from: number, n: number, seed: number): { session: string; key: string; value: string; level: string }[] {
  const rand = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const words = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => WORDS[Math.floor(rand() * WORDS.length)]);
    return { session: `s${(from + i) % 4}`, key: 'out', value: `${words.join(' ')} n${from + i}`, level: (from + i) % 5 === 0 ? 'error' : 'info' };
  });
}

/** What each search must return, from the values sent (in the order sent = id order). */
function expected(sent: { session: string; value: string; level: string }[], word: string, f: { session?: string; level?: string } = {}): string[] {
  return sent
    .filter((e) => e.value.split(' ').includes(word) && (!f.session || e.session === f.session) && (!f.level || e.level === f.level))
    .map((e) => e.value);
}

async function checkSearches(url: string, sent: { session: string; value: string; level: string }[], what: string): Promise<void> {
  // The session list first: on a server's fresh connections it is the first read that scans rows
  // past the watermark, and it does so while it walks the day's session summaries on the same
  // connection (it once failed there with "This database connection is busy executing a query").
  const sessions = (await getJson(`${url}/v1/sessions?q=n3`)).sessions.map((s: any) => s.session);
  assert.deepEqual(sessions, ['s3'], `${what}: sessions with q=n3`);
  for (const word of ['amber', 'flint']) {
    assert.deepEqual(await search(url, { q: word }), expected(sent, word), `${what}: q=${word}`);
    assert.deepEqual(await search(url, { q: word, level: 'error' }), expected(sent, word, { level: 'error' }), `${what}: q=${word} level=error`);
    assert.deepEqual(await search(url, { q: word }, '/v1/sessions/s1/events'), expected(sent, word, { session: 's1' }), `${what}: session s1 q=${word}`);
  }
}

function dayFiles(dataDir: string): string[] {
  return readdirSync(dataDir)
    .filter((n) => /^events-\d{8}(\.fts)?\.db$/.test(n))
    .sort();
}

function watermark(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT indexed FROM index_state').pluck().get() as number;
  } finally {
    db.close();
  }
}

/** The index chunk tables (`events_fts_<first rowid>`) of a file, without FTS5's own tables. */
function chunkTables(db: Database.Database): string[] {
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'events_fts_[0-9]*'").pluck().all() as string[];
  return names.filter((n) => /^events_fts_\d+$/.test(n));
}

function lastRowid(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT max(rowid) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
}

function waitIndexed(url: string): Promise<void> {
  return until('the index to catch up', async () => (await getJson(`${url}/healthz`)).searchIndexLagRows === 0, 20_000);
}

describe('the full-text index file of a day', () => {
  const now = Date.UTC(2026, 5, 10, 12);
  const day = '20260610';
  let dataDir: string;
  let srv: TestServer | null = null;
  const sent: ReturnType<typeof batch> = [];

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'logsrv-ixfile-'));
  });
  after(async () => {
    await srv?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('a new day gets its index file; the index thread follows the commits and reports its lag', T, async () => {
    srv = await startTestServer({ searchChunkRows: 16 }, { dataDir, clock: () => now });
    for (let b = 0; b < 5; b++) {
      const events = batch(sent.length, 40, b);
      await send(srv.url, events);
      sent.push(...events);
    }
    await waitIndexed(srv.url);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /^logsrv_search_index_lag_rows 0$/m);
    // 200 rows never come near the default lag bound: the writer has not waited for the index.
    assert.match(metrics, /^logsrv_search_index_wait_seconds_total 0$/m);
    await checkSearches(srv.url, sent, 'indexed');
    await srv.close();
    srv = null;
    assert.deepEqual(dayFiles(dataDir), [`events-${day}.db`, `events-${day}.fts.db`]);
    const db = new Database(join(dataDir, `events-${day}.db`), { readonly: true });
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'events_fts*'").all(), [], 'no index inside the day file');
    assert.equal(db.pragma('user_version', { simple: true }), 4);
    db.close();
    assert.equal(watermark(join(dataDir, `events-${day}.fts.db`)), 200);
  });

  test('searches are exact while the index lags (rows past its watermark are scanned), and it catches up after a restart', T, async () => {
    // `--search-index off` runs no index thread: the day's index file stays where it was while
    // the writer goes on, as after kill -9 between a commit and its indexing.
    srv = await startTestServer({ searchIndex: 'off', searchChunkRows: 16 }, { dataDir, clock: () => now });
    for (let b = 0; b < 3; b++) {
      const events = batch(sent.length, 30, 10 + b);
      await send(srv.url, events);
      sent.push(...events);
    }
    assert.equal(watermark(join(dataDir, `events-${day}.fts.db`)), 200, 'nothing indexed with the index off');
    await checkSearches(srv.url, sent, 'lagging by 90 rows');
    await srv.close();
    srv = await startTestServer({ searchChunkRows: 16 }, { dataDir, clock: () => now });
    await waitIndexed(srv.url);
    assert.equal(watermark(join(dataDir, `events-${day}.fts.db`)), 290);
    await checkSearches(srv.url, sent, 'caught up');
    await srv.close();
    srv = null;
  });

  test('archive takes the index file with its day; restore builds it again', T, async () => {
    const archived = await archiveDays(dataDir, '20260611', '20260611');
    assert.deepEqual(
      archived.map((a) => a.day),
      [day],
    );
    assert.deepEqual(dayFiles(dataDir), []);
    assert.ok(!existsSync(join(dataDir, `events-${day}.fts.db-wal`)));
    assert.ok(!existsSync(join(dataDir, `events-${day}.sess.db`)));
    await restoreArchive(dataDir, archived[0]?.file as string);
    assert.deepEqual(dayFiles(dataDir), [`events-${day}.db`, `events-${day}.fts.db`]);
    assert.equal(watermark(join(dataDir, `events-${day}.fts.db`)), lastRowid(join(dataDir, `events-${day}.db`)));
    // The day's session chunks (session-chunks.ts) likewise: gone with it, built whole again.
    const chunks = new Database(join(dataDir, `events-${day}.sess.db`), { readonly: true });
    assert.equal(chunks.prepare('SELECT built FROM chunk_state').pluck().get(), lastRowid(join(dataDir, `events-${day}.db`)));
    assert.equal(chunks.prepare('SELECT sum(length(ids)) / 8 FROM chunks').pluck().get(), lastRowid(join(dataDir, `events-${day}.db`)));
    chunks.close();
    srv = await startTestServer({ searchChunkRows: 16 }, { dataDir, clock: () => now });
    await checkSearches(srv.url, sent, 'restored');
    await srv.close();
    srv = null;
  });
});

test('a day file with its index inside (day schema 3) is searched, and new rows go on into that index', T, async () => {
  const now = Date.UTC(2026, 5, 12, 9);
  const day = '20260612';
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-ixv3-'));
  try {
    let srv = await startTestServer({ searchChunkRows: 16 }, { dataDir, clock: () => now });
    const sent = batch(0, 100, 1);
    await send(srv.url, sent);
    await srv.close();
    // Rewrite it the way the previous version wrote it: chunks of the index in the day file,
    // with the events as their content, user_version 3, no index file.
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, `events-${day}.fts.db${suffix}`), { force: true });
    const db = new Database(join(dataDir, `events-${day}.db`));
    db.exec(`
      CREATE VIRTUAL TABLE events_fts_1 USING fts5 (value, content = 'events', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2');
      CREATE VIRTUAL TABLE events_fts_51 USING fts5 (value, content = 'events', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2');
      INSERT INTO events_fts_1 (rowid, value) SELECT rowid, value FROM events WHERE rowid <= 50;
      INSERT INTO events_fts_51 (rowid, value) SELECT rowid, value FROM events WHERE rowid > 50;
      PRAGMA user_version = 3;`);
    db.close();
    srv = await startTestServer({ searchChunkRows: 60 }, { dataDir, clock: () => now });
    try {
      await checkSearches(srv.url, sent, 'schema 3');
      const more = batch(100, 50, 2);
      await send(srv.url, more);
      sent.push(...more);
      await checkSearches(srv.url, sent, 'schema 3, extended');
    } finally {
      await srv.close();
    }
    assert.deepEqual(dayFiles(dataDir), [`events-${day}.db`], 'no index file for a day whose index is inside');
    const check = new Database(join(dataDir, `events-${day}.db`), { readonly: true });
    const tables = chunkTables(check);
    assert.deepEqual(tables.sort(), ['events_fts_1', 'events_fts_111', 'events_fts_51'], 'the writer went on filling chunks inside the file');
    check.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('chunks of an index file merge their segments 8 at a time, and stay exact after many small steps', T, async () => {
  const now = Date.UTC(2026, 5, 14, 9);
  const day = '20260614';
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-ixmerge-'));
  try {
    const srv = await startTestServer({ searchChunkRows: 500 }, { dataDir, clock: () => now });
    const sent: ReturnType<typeof batch> = [];
    try {
      // One commit per request, and the index waited for after each: a segment per step.
      for (let b = 0; b < 60; b++) {
        const events = batch(sent.length, 1 + (b % 20), 200 + b);
        await send(srv.url, events);
        sent.push(...events);
        await waitIndexed(srv.url);
      }
      await checkSearches(srv.url, sent, 'after 60 steps');
    } finally {
      await srv.close();
    }
    const db = new Database(join(dataDir, `events-${day}.fts.db`), { readonly: true });
    try {
      const chunks = chunkTables(db);
      assert.equal(chunks.length, Math.ceil(sent.length / 500), `chunks of 500 rows for ${sent.length} rows: ${chunks.join(' ')}`);
      for (const c of chunks) {
        assert.equal(db.prepare(`SELECT v FROM ${c}_config WHERE k = 'automerge'`).pluck().get(), 8, `${c}: automerge`);
      }
    } finally {
      db.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('while the writer keeps committing, the index takes few large steps, not one per commit, and catches up when it stops', T, async () => {
  const now = Date.UTC(2026, 5, 15, 9);
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-ixsteps-'));
  try {
    const srv = await startTestServer({}, { dataDir, clock: () => now });
    try {
      const sent: ReturnType<typeof batch> = [];
      const ftsPath = join(dataDir, 'events-20260615.fts.db');
      // The first request makes the day's index file; then the watermark is watched (every
      // ~1 ms, so a step is never seen early, at worst missed) while commits of 100 rows follow
      // one another for ~2 s.
      await send(srv.url, batch(0, 100, 1));
      sent.push(...batch(0, 100, 1));
      await waitIndexed(srv.url);
      const db = new Database(ftsPath, { readonly: true });
      const read = db.prepare('SELECT indexed FROM index_state').pluck();
      const seen: number[] = [read.get() as number];
      const watch = setInterval(() => {
        const w = read.get() as number;
        if (w !== seen[seen.length - 1]) seen.push(w);
      }, 1);
      const t0 = performance.now();
      let commits = 0;
      try {
        while (performance.now() - t0 < 2000) {
          const events = batch(sent.length, 100, 300 + commits);
          await send(srv.url, events);
          sent.push(...events);
          commits++;
        }
      } finally {
        clearInterval(watch);
        db.close();
      }
      const ms = performance.now() - t0;
      const steps = seen.length - 1;
      // At most one step per 4096 rows, plus one per 50 ms of waiting, plus the one that caught
      // up on the first commit. One step per commit would be about `commits`, which must be at
      // least twice that bound for the check to tell the two apart.
      const bound = Math.ceil((commits * 100) / 4096) + Math.ceil(ms / 50) + 2;
      assert.ok(commits >= 2 * bound, `too few commits (${commits} in ${ms.toFixed(0)} ms) for the check to tell`);
      assert.ok(steps <= bound, `${steps} index steps for ${commits} commits in ${ms.toFixed(0)} ms (at most ${bound} expected): ${seen.join(' ')}`);
      await waitIndexed(srv.url);
      await checkSearches(srv.url, sent, 'after the chase');
    } finally {
      await srv.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the writer holds back when the index lags by more than --search-index-max-lag-rows', T, async () => {
  const srv = await startTestServer({ searchIndexMaxLagRows: 1000, maxBatchEvents: 2000 }, { clock: () => Date.UTC(2026, 5, 13) });
  try {
    let maxLag = 0;
    let sending = true;
    const sampler = (async () => {
      while (sending) {
        maxLag = Math.max(maxLag, (await getJson(`${srv.url}/healthz`)).searchIndexLagRows);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const sent: ReturnType<typeof batch> = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        for (let b = 0; b < 5; b++) {
          const events = batch((c * 10 + b) * 1000, 1000, c * 100 + b).map((e) => ({ ...e, session: `c${c}` }));
          await send(srv.url, events);
          sent.push(...events);
        }
      }),
    );
    sending = false;
    await sampler;
    // The writer checks the lag before each batch: it may exceed the bound by one batch.
    assert.ok(maxLag <= 1000 + 2000, `lag reached ${maxLag} rows`);
    // Batches of up to 2000 rows over a bound of 1000: the writer waited, and /metrics says for how long.
    const waited = Number(/^logsrv_search_index_wait_seconds_total (\S+)$/m.exec(await (await fetch(`${srv.url}/metrics`)).text())?.[1]);
    assert.ok(waited > 0 && waited < 60, `the writer waited ${waited} s for the index`);
    // And right after the last acknowledgement, whatever the index has reached, a search is exact.
    const want = expected(sent, 'amber').sort();
    assert.deepEqual((await search(srv.url, { q: 'amber', limit: '1000' })).sort(), want);
  } finally {
    await srv.dispose();
  }
});

test(
  'while the queue is pressed the index thread steps aside and the writer does not wait for it, up to half of --search-index-burst-lag-rows; searches stay exact; released, the index catches up',
  T,
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-ixburst-'));
    const store = new SqliteStore({ dataDir, readerThreads: 1, synchronous: 'normal', searchIndexMaxLagRows: 1000, searchIndexBurstLagRows: 8000 });
    const queue = new MemoryQueue({ maxEvents: 100_000, maxBytes: 1 << 26, lastId: null, clock: () => Date.UTC(2026, 5, 14, 12) });
    const writer = new Writer(queue, store, { maxBatchEvents: 1000 });
    const sent: ReturnType<typeof batch> = [];
    const publish = async (b: number): Promise<void> => {
      const events = batch(b * 1000, 1000, 500 + b);
      sent.push(...events);
      const normalized = events.map((e) => ev(e.session, e.value, { key: e.key, level: e.level }));
      assert.deepEqual(await queue.publish(normalized, 1000), {});
    };
    const searched = async (word: string): Promise<string[]> => {
      const out: string[] = [];
      let after: { ms: number; seq: number } | null = null;
      for (;;) {
        const page = await store.readEvents({ after, until: null, limit: 500, q: word });
        out.push(...page.events.map((e) => String(e.value)));
        if (!page.next) return out;
        const [ms, seq] = page.next.split('-').map(Number);
        after = { ms: ms as number, seq: seq as number };
      }
    };
    try {
      writer.start();
      store.queuePressed(true);
      // Three batches of 1000: not pressed, the writer would wait before the third for the lag to
      // fall to 1000. Pressed, it does not, and the index thread takes none of them.
      for (let b = 0; b < 3; b++) await publish(b);
      assert.equal(store.searchIndexLagRows(), 3000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(store.searchIndexLagRows(), 3000, 'the index thread stays aside while the queue is pressed');
      assert.deepEqual(await searched('amber'), expected(sent, 'amber'), 'rows past the watermark are scanned');
      // At half the burst bound (4000) the index thread takes steps again, pressed or not.
      await publish(3);
      await publish(4);
      await until('the index to resume at half the burst bound', () => store.searchIndexLagRows() < 4000, 20_000);
      await publish(5);
      store.queuePressed(false);
      await until('the index to catch up once released', () => store.searchIndexLagRows() === 0, 20_000);
      assert.deepEqual(await searched('basalt'), expected(sent, 'basalt'));
      queue.close();
      await writer.drained();
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

test('IndexProgress: the lag of the writer day, and no wait for a dead index thread', () => {
  const p = new IndexProgress(new SharedArrayBuffer(IndexProgress.bytes));
  p.writerAt(100, 5000, true);
  assert.equal(p.lag(), 5000, 'the index thread has not started on the day');
  p.indexerAt(99, 70, 0);
  assert.equal(p.lag(), 5000, 'still on an earlier day');
  p.indexerAt(99, 70, 30);
  assert.equal(p.lag(), 5030, 'still on an earlier day, with rows of it to index');
  p.indexerAt(100, 4200, 0);
  assert.equal(p.lag(), 800);
  p.waitUntilLagAtMost(1000); // returns at once: under the bound
  p.setPressed(true);
  assert.ok(p.pressed);
  p.waitUntilLagAtMost(100, 1000); // returns at once: pressed, under the burst bound
  assert.equal(p.waitedSeconds(), 0, 'a wait that returns at once adds no time');
  p.setPressed(false);
  assert.ok(!p.pressed);
  p.writerAt(100, 5000, false);
  assert.equal(p.lag(), 0, 'a day without an index file has no lag');
  p.indexerAt(100, 4200, 77);
  assert.equal(p.lag(), 77, 'what the index thread has to catch up counts');
  p.indexerAt(100, 4277, 0);
  p.writerAt(101, 9000, true);
  p.markDead();
  p.waitUntilLagAtMost(10); // would wait forever for a live but stuck thread
  assert.equal(p.lag(), 9000);
  assert.equal(p.waitedSeconds(), 0);
});

test('a day whose index file cannot be read (a full disk, a broken file) is still read, and searched by scanning its rows', T, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-ixbroken-'));
  const now = Date.UTC(2026, 10, 20, 12);
  try {
    const sent = batch(0, 120, 7);
    let srv = await startTestServer({ searchChunkRows: 16 }, { dataDir, clock: () => now });
    try {
      await send(srv.url, sent);
      await waitIndexed(srv.url);
      await checkSearches(srv.url, sent, 'indexed');
    } finally {
      await srv.close();
    }
    // Its index file replaced by bytes that are not a database: the reader cannot attach it, as on
    // a full disk where its shared-memory file cannot be made again (SQLITE_IOERR_SHMSIZE).
    const ix = join(dataDir, dayFiles(dataDir).find((f) => f.endsWith('.fts.db')) as string);
    for (const suffix of ['-wal', '-shm']) rmSync(`${ix}${suffix}`, { force: true });
    writeFileSync(ix, Buffer.alloc(64 * 1024, 0x5a));
    srv = await startTestServer({ searchChunkRows: 16 }, { dataDir, clock: () => now });
    try {
      const page = await getJson(`${srv.url}/v1/sessions/s1/events?limit=1000`);
      assert.deepEqual(
        page.events.map((e: any) => e.value),
        sent.filter((e) => e.session === 's1').map((e) => e.value),
        'a session page',
      );
      await checkSearches(srv.url, sent, 'index file unreadable');
    } finally {
      await srv.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
