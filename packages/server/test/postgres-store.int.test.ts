/**
 * PostgreSQL-only behaviour of PostgresStore, on the machine's server (a fresh database per file):
 * concurrent writers, the same search results as the embedded store, day partitions, archive and
 * restore by detaching a partition, read-only mode, text PostgreSQL cannot hold.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { dayOf } from '@logsrv/protocol';
import type { IdentifiedBatch } from '@logsrv/server';
import { PostgresReadOnlyError, PostgresStore, SqliteStore } from '@logsrv/server';
import postgres from 'postgres';
import { batch, ev } from './contract/events.ts';
import type { TempDatabase } from './pg-helpers.ts';
import { tempDatabase } from './pg-helpers.ts';

const DAY_MS = 86_400_000;

describe('PostgresStore on PostgreSQL', () => {
  let db: TempDatabase | null = null;
  let store: PostgresStore | null = null;
  let dir = '';
  before(async () => {
    db = await tempDatabase('logsrv_pgstore');
    dir = mkdtempSync(join(tmpdir(), 'logsrv-pg-'));
    if (db) store = await PostgresStore.open(db.url, { archiveDir: join(dir, 'archive') });
  });
  after(async () => {
    await store?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const need = (t: { skip(msg: string): void }): { st: PostgresStore; url: string } | null => {
    if (!store || !db) {
      t.skip('PostgreSQL is not available here');
      return null;
    }
    return { st: store, url: db.url };
  };

  test('open creates today and the next 3 day partitions, and no DEFAULT partition', async (t) => {
    const s = need(t);
    if (!s) return;
    const sql = postgres(s.url, { max: 1 });
    try {
      const rows = await sql<{ name: string; bound: string }[]>`
        SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`;
      const now = Date.now();
      const names = rows.map((r) => r.name);
      for (let i = 0; i <= 3; i++) assert.ok(names.includes(`events_${dayOf(now + i * DAY_MS)}`), `partition for today+${i} in ${names}`);
      assert.equal(rows.filter((r) => r.bound === 'DEFAULT').length, 0);
    } finally {
      await sql.end();
    }
  });

  test('two writers appending the same batches at once store every event exactly once, with exact summaries', async (t) => {
    const s = need(t);
    if (!s) return;
    const other = await PostgresStore.open(s.url);
    try {
      const ms0 = Date.now() - 2 * DAY_MS;
      const batches: IdentifiedBatch[] = [];
      // 20 batches of 10: producers p0..p3 shared by every batch, and events without a producer.
      for (let b = 0; b < 20; b++) {
        const events = [];
        for (let k = 0; k < 10; k++) {
          const n = b * 10 + k;
          events.push(ev(`conc-${n % 3}`, `v${n}`, n % 5 === 4 ? {} : { producer: `p${n % 4}`, pseq: n }));
        }
        batches.push(batch(events, ms0 + b));
      }
      const run = async (st: PostgresStore) => {
        let stored = 0;
        for (const b of batches) stored += b.events.length - ((await st.append(b)).skipped?.length ?? 0);
        return stored;
      };
      const [a, b] = await Promise.all([run(s.st), run(other)]);
      assert.equal(a + b, 200, `stored ${a} + ${b}`);
      const all = await s.st.readEvents({ after: { ms: ms0 - 1, seq: 0 }, until: { ms: ms0 + 20, seq: 0 }, limit: 1000 });
      assert.deepEqual(
        all.events.map((e) => e.value),
        Array.from({ length: 200 }, (_x, n) => `v${n}`),
      );
      for (let k = 0; k < 3; k++) {
        const sum = await other.sessionSummary(`conc-${k}`);
        const mine = all.events.filter((e) => e.session === `conc-${k}`);
        assert.equal(sum?.count, mine.length);
        assert.equal(sum?.firstId, mine[0]?.id);
        assert.equal(sum?.lastId, mine[mine.length - 1]?.id);
      }
    } finally {
      await other.close();
    }
  });

  test('two writer processes appending the same batches at once store every event exactly once', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms0 = Date.now() - 2 * DAY_MS + 50_000;
    // Each child is a separate process with its own store: 30 batches of 20, producers shared by all.
    const child = `
      import { PostgresStore } from '@logsrv/server';
      const [url, ms0] = [process.argv[1], Number(process.argv[2])];
      const store = await PostgresStore.open(url);
      let stored = 0;
      for (let b = 0; b < 30; b++) {
        const events = [];
        for (let k = 0; k < 20; k++) {
          const n = b * 20 + k;
          events.push({ session: 'proc-' + (n % 4), key: 'stdout', value: 'v' + n, vjson: 0, ts: null, component: null, user: null, terminal: null,
            step: null, level: null, attrs: null, producer: n % 3 === 0 ? null : 'pp' + (n % 5), pseq: n % 3 === 0 ? null : n });
        }
        const ms = new Float64Array(20).fill(ms0 + b);
        const seq = Float64Array.from(events, (_e, i) => i);
        stored += 20 - ((await store.append({ events, ms, seq })).skipped?.length ?? 0);
      }
      await store.close();
      process.stdout.write(String(stored));`;
    const run = () =>
      new Promise<number>((resolve, reject) => {
        const p = spawn(process.execPath, ['--input-type=module', '-e', child, s.url, String(ms0)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`writer process exited with ${code}`))));
      });
    const [a, b] = await Promise.all([run(), run()]);
    assert.equal(a + b, 600, `stored ${a} + ${b}`);
    const all = await s.st.readEvents({ after: { ms: ms0 - 1, seq: 0 }, until: { ms: ms0 + 29, seq: 99 }, limit: 1000 });
    assert.deepEqual(
      all.events.map((e) => e.value),
      Array.from({ length: 600 }, (_x, n) => `v${n}`),
    );
    assert.equal((await s.st.sessionSummary('proc-1'))?.count, 150);
  });

  test('batches of two writers interleave in id order; summaries take the smallest and largest id whatever the commit order', async (t) => {
    const s = need(t);
    if (!s) return;
    const other = await PostgresStore.open(s.url);
    try {
      const ms0 = Date.now() - 2 * DAY_MS + 100_000;
      // The later ids commit first.
      await other.append(batch([ev('inter', 'late-1'), ev('inter', 'late-2')], ms0 + 10));
      await s.st.append(batch([ev('inter', 'early-1'), ev('inter', 'early-2')], ms0));
      const page = await s.st.readSession({ session: 'inter', after: null, limit: 10 });
      assert.deepEqual(
        page.events.map((e) => e.value),
        ['early-1', 'early-2', 'late-1', 'late-2'],
      );
      const sum = await s.st.sessionSummary('inter');
      assert.equal(sum?.firstId, `${ms0}-0`);
      assert.equal(sum?.lastId, `${ms0 + 10}-1`);
      assert.equal(sum?.latest.stdout?.value, 'late-2');
      // The newest id, not the last committed batch's.
      assert.deepEqual(await s.st.lastId(), { ms: ms0 + 10, seq: 1 });
    } finally {
      await other.close();
    }
  });

  test('a batch delivered again with new events after it stores only the new ones (COPY refused, merged)', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms = Date.now() - 2 * DAY_MS + 300_000;
    await s.st.append(batch([ev('redo', 'a'), ev('redo', 'b')], ms));
    // Its first id is stored: the COPY fails on the primary key and the batch is merged instead.
    const r = await s.st.append(batch([ev('redo', 'b'), ev('redo', 'c'), ev('redo', 'd', { producer: 'redo-p', pseq: 2 })], ms, 1));
    assert.deepEqual(r.skipped, [0]);
    const page = await s.st.readSession({ session: 'redo', after: null, limit: 10 });
    assert.deepEqual(
      page.events.map((e) => [e.id, e.value]),
      [
        [`${ms}-0`, 'a'],
        [`${ms}-1`, 'b'],
        [`${ms}-2`, 'c'],
        [`${ms}-3`, 'd'],
      ],
    );
    assert.equal((await s.st.sessionSummary('redo'))?.count, 4);
    // The mark followed the stored events: seq 2 is now a duplicate.
    const again = await s.st.append(batch([ev('redo', 'd-retry', { producer: 'redo-p', pseq: 2 })], ms, 9));
    assert.deepEqual(again.skipped, [0]);
  });

  test('a large batch delivered twice (the refused COPY is many chunks long) is stored once', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms = Date.now() - 2 * DAY_MS + 400_000;
    const big = batch(
      Array.from({ length: 8000 }, (_x, i) => ev(`big-${i % 5}`, `line ${i} ${'x'.repeat(100)}`)),
      ms,
    );
    assert.deepEqual((await s.st.append(big)).skipped ?? [], []);
    const again = await s.st.append(big);
    assert.equal(again.skipped?.length, 8000);
    assert.equal((await s.st.sessionSummary('big-0'))?.count, 1600);
  });

  test('after its connections are killed (a PostgreSQL restart) the store reconnects on the next call', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms = Date.now() - 2 * DAY_MS + 500_000;
    await s.st.append(batch([ev('reconnect', 'before')], ms));
    const admin = postgres(s.url, { max: 1 });
    try {
      const killed = await admin<{ ok: boolean }[]>`
        SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'logsrv'`;
      assert.ok(killed.length > 0, 'the store had connections to kill');
    } finally {
      await admin.end();
    }
    await new Promise((r) => setTimeout(r, 100));
    await s.st.append(batch([ev('reconnect', 'after')], ms, 1));
    const page = await s.st.readSession({ session: 'reconnect', after: null, limit: 5 });
    assert.deepEqual(
      page.events.map((e) => e.value),
      ['before', 'after'],
    );
  });

  test('a day with no partition yet gets one on demand (ids of an old day)', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms = Date.UTC(2020, 1, 29, 23, 59, 59, 999);
    await s.st.append(batch([ev('leap', 'a'), ev('leap', 'b')], ms));
    const page = await s.st.readSession({ session: 'leap', after: null, limit: 10 });
    assert.deepEqual(
      page.events.map((e) => e.id),
      [`${ms}-0`, `${ms}-1`],
    );
  });

  test('a new day partition is added while a long read holds events open (no lock that waits for readers)', async (t) => {
    const s = need(t);
    if (!s) return;
    const reader = postgres(s.url, { max: 1 });
    try {
      await reader.begin(async (tx) => {
        await tx`SELECT count(*) FROM events`;
        // The read's transaction is still open: its locks on events are held.
        const ms = Date.UTC(2019, 5, 1, 12);
        const appended = s.st.append(batch([ev('lock-free', 'x')], ms)).then(() => 'appended');
        const timeout = new Promise((r) => setTimeout(() => r('blocked'), 15_000).unref());
        assert.equal(await Promise.race([appended, timeout]), 'appended');
        const [row] = await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = ${`events_${dayOf(ms)}`}`;
        assert.ok((row?.n ?? 0) >= 2, 'the new partition has the primary key and the session index');
      });
    } finally {
      await reader.end();
    }
  });

  test('text PostgreSQL cannot hold (U+0000) and COPY escapes are stored and read back unchanged, and searchable', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms = Date.now() - 2 * DAY_MS + 200_000;
    const value = 'nul\u0000inside \uffff marker zero0';
    // COPY's own escapes: tab, newline, carriage return, backslash, and what looks like \N.
    const copyish = 'tab\there\nnew line\r\\back\\slash \\N end';
    await s.st.append(batch([ev('nul', value, { attrs: '{"a":"\\u0000"}' }), ev('nul', copyish, { step: 'a\tb' })], ms));
    const page = await s.st.readSession({ session: 'nul', after: null, limit: 10 });
    assert.equal(page.events[0]?.value, value);
    assert.deepEqual(page.events[0]?.attrs, { a: '\u0000' });
    assert.equal(page.events[1]?.value, copyish);
    assert.equal(page.events[1]?.step, 'a\tb');
    const found = await s.st.readEvents({ after: { ms: ms - 1, seq: 0 }, until: null, limit: 10, q: 'marker' });
    assert.deepEqual(
      found.events.map((e) => e.session),
      ['nul'],
    );
  });

  test('a read-only store reads what a writer stored and refuses to write', async (t) => {
    const s = need(t);
    if (!s) return;
    const ro = await PostgresStore.open(s.url, { readOnly: true });
    try {
      const page = await ro.readSession({ session: 'inter', after: null, limit: 10 });
      assert.equal(page.events.length, 4);
      await assert.rejects(ro.append(batch([ev('ro', 'x')], Date.now())), PostgresReadOnlyError);
      await assert.rejects(ro.register('ro', { user: 'u' }, Date.now()), PostgresReadOnlyError);
    } finally {
      await ro.close();
    }
  });

  test('archive detaches whole days into a gzip NDJSON file, and restore brings them back identical', async (t) => {
    const s = need(t);
    if (!s) return;
    const now = Date.now();
    const old = now - 5 * DAY_MS;
    await s.st.append(batch([ev('arch', 'old timeout one', { level: 'error', user: 'olduser' }), ev('arch', 'old two')], old));
    await s.st.append(batch([ev('arch', 'new one')], now));
    const before = await s.st.readSession({ session: 'arch', after: null, limit: 10 });
    const sumBefore = await s.st.sessionSummary('arch');
    assert.equal(sumBefore?.count, 3);

    // A store whose clock is ten days behind made empty partitions for those days, ahead of time.
    const behind = await PostgresStore.open(s.url, { clock: () => now - 10 * DAY_MS });
    await behind.close();
    const days = await s.st.archive(dayOf(now - DAY_MS), dayOf(now));
    assert.ok(!days.some((d) => d.day === dayOf(now - 10 * DAY_MS)), 'days without events are dropped, not archived');
    const sql = postgres(s.url, { max: 1 });
    try {
      const [left] = await sql<{ t: string | null }[]>`SELECT to_regclass(${`events_${dayOf(now - 10 * DAY_MS)}`})::text AS t`;
      assert.equal(left?.t, null);
    } finally {
      await sql.end();
    }
    const oldDay = days.find((d) => d.day === dayOf(old));
    assert.ok(oldDay, `archived ${days.map((d) => d.day)}`);
    assert.equal(oldDay.events, 2);
    assert.ok(oldDay.archiveBytes > 0);
    const lines = gunzipSync(readFileSync(oldDay.file)).toString('utf8').trimEnd().split('\n');
    assert.equal(JSON.parse(lines[0] as string).day, dayOf(old));
    assert.equal(lines.length, 3, 'a header and one line per event');

    const during = await s.st.readSession({ session: 'arch', after: null, limit: 10 });
    assert.deepEqual(
      during.events.map((e) => e.value),
      ['new one'],
    );
    const sumDuring = await s.st.sessionSummary('arch');
    assert.equal(sumDuring?.count, 1);
    assert.deepEqual(sumDuring?.levels, {});
    assert.deepEqual(sumDuring?.users, []);
    assert.equal(sumDuring?.firstId, `${now}-0`);

    const restored = await s.st.restore(oldDay.file);
    assert.deepEqual([restored.day, restored.events], [dayOf(old), 2]);
    const after = await s.st.readSession({ session: 'arch', after: null, limit: 10 });
    assert.deepEqual(after, before);
    assert.deepEqual(await s.st.sessionSummary('arch'), sumBefore);
    const found = await s.st.readEvents({ after: null, until: null, limit: 10, q: 'timeout one' });
    assert.deepEqual(
      found.events.map((e) => e.id),
      [`${old}-0`],
    );
    await assert.rejects(s.st.restore(oldDay.file), /already in the store/);
  });
});

// Events over three days: the first and last written with tokens (the GIN index), the middle one
// by a store with the search index off (rows checked in Node), so a query crosses both kinds.
describe('PostgreSQL idempotency marks with appends out of order', () => {
  let db: TempDatabase | null = null;
  let store: PostgresStore | null = null;
  before(async () => {
    db = await tempDatabase('logsrv_pgmarks');
    if (db) store = await PostgresStore.open(db.url, {});
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });
  const need = (t: { skip(msg: string): void }): { st: PostgresStore } | null => {
    if (!store) {
      t.skip('PostgreSQL is not available here');
      return null;
    }
    return { st: store };
  };

  test('a producer writing to two sessions: batches committed out of order lose nothing (marks are per producer and session)', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms = Date.now();
    const p = (session: string, value: string, pseq: number) => ev(session, value, { producer: 'multi', pseq });
    // Scaled out, the two sessions are in different shards, so seq 2 may commit before seq 1.
    assert.deepEqual((await s.st.append(batch([p('mp-b', 'second', 2)], ms, 100))).skipped ?? [], []);
    assert.deepEqual((await s.st.append(batch([p('mp-a', 'first', 1)], ms, 50))).skipped ?? [], []);
    // A retry of either is still stored once.
    assert.deepEqual((await s.st.append(batch([p('mp-a', 'first again', 1)], ms, 60))).skipped, [0]);
    const a = await s.st.readSession({ session: 'mp-a', after: null, limit: 10 });
    const b = await s.st.readSession({ session: 'mp-b', after: null, limit: 10 });
    assert.deepEqual(
      [...a.events, ...b.events].map((e) => e.value),
      ['first', 'second'],
    );
  });

  test('appends from one instance commit in call order, even when issued together', async (t) => {
    const s = need(t);
    if (!s) return;
    const ms = Date.now() + 1;
    const p = (value: string, pseq: number) => ev('order', value, { producer: 'ordered', pseq });
    // Issued at once (the writer keeps two appends in flight): seq 1 must not be taken for a
    // duplicate of seq 2 by committing second.
    const [r1, r2] = await Promise.all([s.st.append(batch([p('one', 1)], ms, 0)), s.st.append(batch([p('two', 2)], ms, 1))]);
    assert.deepEqual([r1.skipped ?? [], r2.skipped ?? []], [[], []]);
    const page = await s.st.readSession({ session: 'order', after: null, limit: 10 });
    assert.deepEqual(
      page.events.map((e) => e.value),
      ['one', 'two'],
    );
  });
});

describe("PostgreSQL search gives the embedded store's results, over days with and without the index", () => {
  let db: TempDatabase | null = null;
  let pg: PostgresStore | null = null;
  let pgOff: PostgresStore | null = null;
  let lite: SqliteStore | null = null;
  let dir = '';
  const ms0 = Date.now() - 3 * DAY_MS;
  const values = [
    'connection timeout after 30s',
    'Café au lait',
    'CAFE noir',
    'GET items/4242 failed',
    'items 4242 and more',
    'exit code 3',
    'exit coding',
    '\u001b[31mFAIL\u001b[0m build',
    'failure FAILED failing',
    'ÉCOLE école',
    'a:b c',
    'b a',
    'x_y z',
    '日本語 テキスト',
    'emoji 🎉 party',
    'timeout',
    'nothing to see',
  ];
  const queries = [
    'timeout',
    'fail*',
    '"exit co"*',
    'items/4242',
    'a:b',
    'cafe',
    'FAIL',
    'école',
    '"timeout here"',
    'fail* build',
    'nomatch',
    'x_y',
    '日本語',
    'b a',
    'exit',
    '"connection timeout"',
    'timeout after',
    'party 🎉',
  ];
  before(async () => {
    db = await tempDatabase('logsrv_pgsearch');
    if (!db) return;
    dir = mkdtempSync(join(tmpdir(), 'logsrv-pgsearch-'));
    pg = await PostgresStore.open(db.url);
    pgOff = await PostgresStore.open(db.url, { searchIndex: false });
    lite = new SqliteStore({ dataDir: dir, readerThreads: 1, synchronous: 'normal' });
    const events = values.map((v, i) => ev(`s-${i % 4}`, v));
    events.push(ev('s-json', '{"msg":"timeout here","code":3}', { vjson: 1 }));
    for (let d = 0; d < 3; d++) {
      const b = batch(
        events.filter((_e, i) => i % 3 === d),
        ms0 + d * DAY_MS,
      );
      await (d === 1 ? pgOff : pg).append(b);
      await lite.append(b);
    }
  });
  after(async () => {
    await pg?.close();
    await pgOff?.close();
    await lite?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const q of queries) {
    test(`q=${q} selects the same events, sessions and session pages`, async (t) => {
      if (!pg || !lite) return t.skip('PostgreSQL is not available here');
      const ids = async (st: PostgresStore | SqliteStore) => (await st.readEvents({ after: null, until: null, limit: 100, q })).events.map((e) => e.id);
      const want = await ids(lite);
      if (q === 'nomatch') assert.deepEqual(want, []);
      else assert.ok(want.length > 0, `the embedded store finds something for q=${q}`);
      assert.deepEqual(await ids(pg), want);
      const inSession = async (st: PostgresStore | SqliteStore) =>
        (await st.readSession({ session: 's-1', after: null, limit: 100, q })).events.map((e) => e.id);
      assert.deepEqual(await inSession(pg), await inSession(lite));
      const sessions = async (st: PostgresStore | SqliteStore) => (await st.listSessions({ limit: 100, q })).sessions.map((x) => x.session);
      assert.deepEqual(await sessions(pg), await sessions(lite));
      // Paged two at a time, across the days with and without tokens.
      const paged = async (st: PostgresStore | SqliteStore) => {
        const out: string[] = [];
        let after: { ms: number; seq: number } | null = null;
        for (;;) {
          const p = await st.readEvents({ after, until: null, limit: 2, q });
          out.push(...p.events.map((e) => e.id));
          if (!p.next) return out;
          const [m, s] = p.next.split('-').map(Number);
          after = { ms: m as number, seq: s as number };
        }
      };
      assert.deepEqual(await paged(pg), want);
    });
  }
});

describe("PostgreSQL session listings and summaries equal the embedded store's", () => {
  let db: TempDatabase | null = null;
  let pg: PostgresStore | null = null;
  let lite: SqliteStore | null = null;
  let dir = '';
  const day1 = Date.now() - 4 * DAY_MS;
  const day2 = day1 + DAY_MS;
  before(async () => {
    db = await tempDatabase('logsrv_pglist');
    if (!db) return;
    dir = mkdtempSync(join(tmpdir(), 'logsrv-pglist-'));
    pg = await PostgresStore.open(db.url);
    lite = new SqliteStore({ dataDir: dir, readerThreads: 1, synchronous: 'normal' });
    const both = async (b: IdentifiedBatch) => {
      await pg?.append(b);
      await lite?.append(b);
    };
    await both(
      batch(
        [
          ev('job-a', 'build started', { user: 'ada', component: 'ci', level: 'info' }),
          ev('job-b', 'deploy failed', { user: 'bob', component: 'cd', level: 'error' }),
          ev('job-a', '"running"', { key: 'status', vjson: 1, user: 'ada' }),
          ev('web-1', 'GET / 200', { component: 'web', terminal: 'tty1' }),
        ],
        day1,
      ),
    );
    await both(
      batch(
        [
          ev('job-a', '"done"', { key: 'status', vjson: 1, user: 'ada', level: 'info' }),
          ev('job-c', 'lint ok', { user: 'ada', component: 'ci' }),
          ev('web-1', 'GET /x 500', { component: 'web', level: 'error' }),
          ev('job-b', 'retry failed again', { user: 'bob', component: 'cd', level: 'error' }),
        ],
        day2,
      ),
    );
    for (const st of [pg, lite]) {
      await st.register('job-a', { user: 'ada', terminal: 'tty9', attrs: { ci: true } }, day2 + 5);
      await st.register('idle-1', { user: 'ada' }, day2 + 6);
    }
  });
  after(async () => {
    await pg?.close();
    await lite?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, object][] = [
    ['all', {}],
    ['user ada (events or registration)', { user: 'ada' }],
    ['component ci', { component: 'ci' }],
    ['terminal tty9 (registered)', { terminal: 'tty9' }],
    ['prefix job-', { prefix: 'job-' }],
    ['active in the first day only', { to: day1 + 1000 }],
    ['active from the second day', { from: day2 }],
    ['q failed', { q: 'failed' }],
    ['q and user', { q: 'build', user: 'ada' }],
  ];
  for (const [name, filter] of cases) {
    test(`listSessions ${name}: same sessions, same summaries, same pages`, async (t) => {
      if (!pg || !lite) return t.skip('PostgreSQL is not available here');
      const pages = async (st: PostgresStore | SqliteStore) => {
        const out: unknown[] = [];
        let after: string | undefined;
        for (let i = 0; i < 20; i++) {
          const p = await st.listSessions({ limit: 2, after, ...filter });
          out.push(p.sessions);
          if (!p.next) return out;
          after = p.next;
        }
        return out;
      };
      const want = await pages(lite);
      assert.ok(JSON.stringify(want).includes('"session"'), 'the embedded store lists something');
      assert.deepEqual(await pages(pg), want);
    });
  }

  test("sessionSummary of each session equals the embedded store's", async (t) => {
    if (!pg || !lite) return t.skip('PostgreSQL is not available here');
    for (const s of ['job-a', 'job-b', 'job-c', 'web-1', 'idle-1', 'nobody']) assert.deepEqual(await pg.sessionSummary(s), await lite.sessionSummary(s), s);
  });

  test("readEvents by field filters (narrowed to the sessions the summaries name) equals the embedded store's", async (t) => {
    if (!pg || !lite) return t.skip('PostgreSQL is not available here');
    const filters = [
      { component: 'cd' },
      { user: 'ada', level: 'info' },
      { key: 'status' },
      { component: 'web', level: 'error' },
      { component: 'none' },
      { user: 'ada', component: 'cd' },
    ];
    for (const f of filters) {
      const q = { after: null, until: null, limit: 10, ...f };
      assert.deepEqual(await pg.readEvents(q), await lite.readEvents(q), JSON.stringify(f));
    }
    assert.equal((await pg.readEvents({ after: null, until: null, limit: 10, component: 'cd' })).events.length, 2);
  });

  test("rendered pages are byte for byte the embedded store's, in every format", async (t) => {
    if (!pg || !lite) return t.skip('PostgreSQL is not available here');
    // A page's body is one string, or its parts (SQLite's session chunks) lent until release().
    const text = (page: Awaited<ReturnType<SqliteStore['renderSession']>>) => {
      const { body, release, ...rest } = page;
      const whole = typeof body === 'string' ? body : Buffer.concat(body).toString('utf8');
      release?.();
      return { ...rest, body: whole };
    };
    for (const format of ['json', 'ndjson', 'text'] as const) {
      const session = { session: 'job-a', after: null, limit: 2 };
      assert.deepEqual(text(await pg.renderSession(session, format)), text(await lite.renderSession(session, format)), `session ${format}`);
      const back = { session: 'job-b', after: null, before: { ms: day2, seq: 99 }, limit: 1 };
      assert.deepEqual(text(await pg.renderSession(back, format)), text(await lite.renderSession(back, format)), `before ${format}`);
      const events = { after: null, until: null, limit: 10, level: 'error' };
      const body = text(await lite.renderEvents(events, format));
      assert.ok(body.count > 0);
      assert.deepEqual(text(await pg.renderEvents(events, format)), body, `events ${format}`);
    }
  });
});

test('several instances opening an empty database at once create the schema once', async (t) => {
  const db = await tempDatabase('logsrv_pgopen');
  if (!db) return t.skip('PostgreSQL is not available here');
  try {
    const stores = await Promise.all([PostgresStore.open(db.url), PostgresStore.open(db.url), PostgresStore.open(db.url, { searchIndex: false })]);
    await stores[0]?.append(batch([ev('open-race', 'x')], Date.now()));
    assert.equal((await stores[2]?.readSession({ session: 'open-race', after: null, limit: 5 }))?.events.length, 1);
    await Promise.all(stores.map((s) => s.close()));
    const sql = postgres(db.url, { max: 1 });
    try {
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM logsrv_schema`;
      assert.equal(row?.n, 1);
    } finally {
      await sql.end();
    }
  } finally {
    await db.drop();
  }
});

test('opening a database that does not exist fails with the URL (password hidden) and the reason', async (t) => {
  const db = await tempDatabase('logsrv_pgmissing');
  if (!db) return t.skip('PostgreSQL is not available here');
  await db.drop();
  const url = new URL(db.url);
  url.password = 'secret-pw';
  await assert.rejects(PostgresStore.open(url.toString()), (err: Error) => {
    assert.match(
      err.message,
      /cannot open the PostgreSQL store at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/logsrv_pgmissing_[0-9a-f]+: .*does not exist/,
    );
    assert.ok(!err.message.includes('secret-pw'));
    return true;
  });
});
