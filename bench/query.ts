/**
 * `query`: reading and searching a large store through the real server (`node bin/logsrv serve`),
 * and what full-text indexing and a large store cost ingest.
 *
 * 1. Queries, over the cached data set of bench/lib/query-dataset.ts (10M events over 3 days by
 *    default), p50/p99 latency of HTTP requests made one at a time from this process, each timed
 *    from writing it to its answer's last byte on a keep-alive socket (lib/raw-http.ts; the session
 *    read is also timed through fetch + arrayBuffer(), as before, for a note):
 *    - one session's 10,000 events (`GET /v1/sessions/:s/events?limit=10000`);
 *    - `GET /v1/sessions?user=` for one user (10 sessions, summaries merged over the day files);
 *    - a rare word (`GET /v1/events?q=zr…`, ~3 matches in the store);
 *    - a common word limited to 100 (`q=timeout&limit=100`, in ~40 % of events, from a random time).
 *    Baselines: bare better-sqlite3 in this process running the equivalent SQL on the same files
 *    (no HTTP, no worker hop, no JSON).
 * 2. Ingest, NDJSON over HTTP as in `ingest-http` (1000 events/request, 8 connections), on three
 *    servers measured in turn within each repetition so they share the machine's background load:
 *    empty store with the full-text index, empty store with `--search-index off`, and the data set's
 *    last day (N/3 events in the file being written, N in the store) with the index — its clock set
 *    to that day. Figures: index on ÷ off, and at N ÷ empty.
 * 3. Tokenizers: CPU per row and bytes per row to index the data set's rows with FTS5 unicode61
 *    (the choice) and trigram, against no index, in a scratch file.
 *
 * Knobs (env): BENCH_QUERY_EVENTS (data set size, default 10,000,000; cached per size and schema),
 * BENCH_SECONDS / BENCH_REPS (per measurement), BENCH_QUERY_MAX_REQUESTS (per query kind and
 * repetition, default 400), BENCH_WARMUP_SECONDS (ingest warm-up, default 5), BENCH_QUERY_PARTS (which
 * of `queries,ingest,tokenizers` to run, default all), BENCH_QUERY_KINDS (which of
 * `session,user,rare,common` queries, default all): `BENCH_QUERY_PARTS=queries
 * BENCH_QUERY_KINDS=session` times only the session read.
 */
import { closeSync, copyFileSync, existsSync, linkSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { ClientProcess } from './lib/client-process.ts';
import { envList, envNumber } from './lib/env.ts';
import { processMajorFaults } from './lib/host-load.ts';
import { type LogsrvProcess, startLogsrv } from './lib/logsrv-process.ts';
import { COMMON_WORD, FIRST_DAY_MS, type QueryDataset, queryDataset, RARE_WORDS, rareWord, rngAt } from './lib/query-dataset.ts';
import { RawHttpClient } from './lib/raw-http.ts';
import { fmt, fmtRatio, measurement, median, quantile } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';

const TARGET_SESSION_P99_MS = 20;
const TARGET_RARE_P99_MS = 100;
const TARGET_INDEX_RATIO = 0.5;
const TARGET_SIZE_RATIO = 0.9;

interface QueryKind {
  name: string;
  /** Its name in BENCH_QUERY_KINDS. */
  short: string;
  /** The request path of the i-th query. */
  path(rand: () => number): string;
  /** Checks a parsed answer (once per repetition). */
  check(body: any): void;
  /** The same work in bare SQLite, or null. */
  bare: ((rand: () => number) => void) | null;
  targetP99Ms?: number;
}

interface Latencies {
  p50: number[];
  p99: number[];
  requests: number[];
}

/**
 * Requests one at a time on one keep-alive socket (lib/raw-http.ts), each timed from writing it to
 * the answer's last byte; the answer is parsed and checked once per repetition.
 */
async function timeRequests(base: string, kind: QueryKind, seconds: number, maxRequests: number, rand: () => number): Promise<number[]> {
  const ms: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let checked = false;
  const client = new RawHttpClient(base);
  try {
    while (ms.length < maxRequests && performance.now() < deadline) {
      const path = kind.path(rand);
      const a = await client.get(path, !checked);
      ms.push(a.lastByteMs);
      if (a.status !== 200) throw new Error(`${path} answered ${a.status}: ${a.body?.toString('utf8').slice(0, 300)}`);
      if (!checked) {
        kind.check(JSON.parse((a.body as Buffer).toString('utf8')));
        checked = true;
      }
    }
  } finally {
    client.close();
  }
  return ms;
}

/**
 * The same requests as the benchmark timed them before lib/raw-http.ts: `fetch` and the whole
 * answer taken with `arrayBuffer()`, from request to that buffer. Kept as a note beside the
 * session read: the difference is the cost of that client, not of the server.
 */
async function timeFetch(base: string, kind: QueryKind, seconds: number, maxRequests: number, rand: () => number): Promise<number[]> {
  const ms: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (ms.length < maxRequests && performance.now() < deadline) {
    const url = base + kind.path(rand);
    const t0 = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    ms.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  }
  return ms;
}

function timeBare(kind: QueryKind, seconds: number, maxRequests: number, rand: () => number): number[] {
  const ms: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (ms.length < maxRequests && performance.now() < deadline) {
    const t0 = performance.now();
    kind.bare?.(rand);
    ms.push(performance.now() - t0);
  }
  return ms;
}

/**
 * Read-only connections to the data set's day files, oldest first, for the baselines; a day's
 * full-text index file (store/sqlite/index-file.ts), if any, attached as `ix`.
 */
function openDays(dir: string): Database.Database[] {
  return readdirSync(dir)
    .filter((f) => /^events-\d{8}\.db$/.test(f))
    .sort()
    .map((f) => {
      const db = new Database(join(dir, f), { readonly: true, fileMustExist: true });
      const ix = join(dir, f.replace(/\.db$/, '.fts.db'));
      if (existsSync(ix)) db.prepare('ATTACH ? AS ix').run(ix);
      return db;
    });
}

/**
 * Reads every file of the data set once, so that the queries find it in the page cache whatever
 * ran before (a data set generated in this run, another benchmark's files, a fresh machine): the
 * server's reads and the bare SQLite baseline's then both come from memory, as on a server that
 * has been up. Without it, which pages a repetition had to fetch from disk depended on what ran
 * before (a full run of 2026-12-06: 88 / 72 / 44 major page faults, p99 41.7 / 21 / 12.2 ms).
 * It runs before each repetition of each kind, not once: the VMs of 2026-12-07 page out file pages
 * nobody touched for a minute (DAMON reclaim, `kdamond`, with or without memory pressure), so
 * after one read 8-15 % of the data set was gone again by the end of a run (fincore), and the
 * server took 18-44 major page faults per 400 session reads. Returns the bytes read and the seconds
 * it took.
 */
function warmPageCache(ds: QueryDataset): { bytes: number; seconds: number } {
  const t0 = performance.now();
  const buf = Buffer.allocUnsafe(1 << 20);
  let bytes = 0;
  // The files the data set was checked against when it was found in the cache (query-dataset.ts).
  for (const f of Object.keys(ds.files)) {
    const fd = openSync(join(ds.dir, f), 'r');
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) bytes += n;
    } finally {
      closeSync(fd);
    }
  }
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}

/** The schema holding a day's index chunks: the index file when attached, else the day file (schema 3). */
function indexSchema(db: Database.Database): 'ix' | 'main' {
  return db.prepare("SELECT 1 FROM pragma_database_list WHERE name = 'ix'").get() ? 'ix' : 'main';
}

function queryKinds(ds: QueryDataset, days: Database.Database[]): QueryKind[] {
  const cols = 'ms, seq, session, key, value, vjson, ts, component, user, terminal, step, level, attrs, producer, pseq';
  const fcols = cols
    .split(', ')
    .map((c) => `e.${c}`)
    .join(', ');
  const sessionSql = days.map((db) => db.prepare(`SELECT ${cols} FROM events WHERE session = ? ORDER BY ms, seq LIMIT 10001`));
  // The index of a day is in chunks named by their first rowid (day-index.ts): the bare queries
  // go to the chunk holding their start, as the server does, and on through the next ones.
  const chunks = days.map((db) =>
    (
      db
        .prepare(`SELECT name FROM ${indexSchema(db)}.sqlite_master WHERE type = 'table' AND name GLOB 'events_fts_[0-9]*'`)
        .pluck()
        .all() as string[]
    )
      .map((n) => /^events_fts_(\d+)$/.exec(n)?.[1])
      .filter((n) => n !== undefined)
      .map(Number)
      .sort((x, y) => x - y)
      .map((start) => ({
        start,
        st: db.prepare(
          `SELECT ${fcols} FROM ${indexSchema(db)}.events_fts_${start} f JOIN events e ON e.rowid = f.rowid WHERE f.events_fts_${start} MATCH ? AND f.rowid >= ? ORDER BY f.rowid LIMIT ?`,
        ),
      })),
  );
  const match = (d: number, expr: string, from: number, limit: number): number => {
    const list = chunks[d] ?? [];
    let n = 0;
    for (let i = 0; i < list.length && n < limit; i++) {
      const c = list[i] as { start: number; st: Database.Statement };
      const next = list[i + 1];
      if (next !== undefined && next.start <= from) continue;
      n += c.st.all(expr, from, limit - n).length;
    }
    return n;
  };
  const maxRowid = days.map((db) => (db.prepare('SELECT max(rowid) AS m FROM events').get() as { m: number }).m);
  const firstMs = FIRST_DAY_MS;
  const span = ds.lastMs - firstMs;
  const pick = <T>(xs: readonly T[], rand: () => number) => xs[Math.floor(rand() * xs.length)] as T;
  return [
    {
      name: "one session's 10k events",
      short: 'session',
      path: (rand) => `/v1/sessions/${pick(ds.sessions, rand)}/events?limit=10000`,
      check: (b) => {
        if (b.events.length !== 10_000 || b.next !== null) throw new Error(`expected 10,000 events and no next, got ${b.events.length}, next ${b.next}`);
      },
      bare: (rand) => {
        const s = pick(ds.sessions, rand);
        let n = 0;
        for (const st of sessionSql) n += st.all(s).length;
        if (n !== 10_000) throw new Error(`bare: ${n} rows for ${s}`);
      },
      targetP99Ms: TARGET_SESSION_P99_MS,
    },
    {
      name: 'sessions of one user',
      short: 'user',
      path: (rand) => `/v1/sessions?user=${pick(ds.users, rand)}`,
      check: (b) => {
        if (b.sessions.length === 0) throw new Error('no sessions for the user');
      },
      bare: null,
    },
    {
      name: 'rare word',
      short: 'rare',
      path: (rand) => `/v1/events?q=${rareWord(Math.floor(rand() * RARE_WORDS))}`,
      check: (b) => {
        if (!Array.isArray(b.events)) throw new Error('no events array');
      },
      bare: (rand) => {
        const w = `"${rareWord(Math.floor(rand() * RARE_WORDS))}"`;
        for (let d = 0; d < days.length; d++) match(d, w, 0, 1001);
      },
      targetP99Ms: TARGET_RARE_P99_MS,
    },
    {
      name: 'common word, limit 100',
      short: 'common',
      path: (rand) => `/v1/events?q=${COMMON_WORD}&limit=100&from=${firstMs + Math.floor(rand() * span)}`,
      check: (b) => {
        if (b.events.length !== 100) throw new Error(`expected 100 events, got ${b.events.length}`);
      },
      bare: (rand) => {
        const d = Math.floor(rand() * days.length);
        const n = match(d, `"${COMMON_WORD}"`, Math.floor(rand() * (maxRowid[d] as number)), 101);
        if (n < 50) throw new Error(`bare: only ${n} rows`);
      },
    },
  ];
}

async function measureQueries(ctx: BenchContext, ds: QueryDataset, notes: string[]): Promise<Figure[]> {
  const maxRequests = envNumber('BENCH_QUERY_MAX_REQUESTS', 400, 10);
  const days = openDays(ds.dir);
  const only = envList('BENCH_QUERY_KINDS', ['session', 'user', 'rare', 'common']);
  const kinds = queryKinds(ds, days).filter((k) => only.includes(k.short));
  const warm = warmPageCache(ds);
  /** Seconds each read of the whole data set took before a repetition (slower when pages had to come back from disk). */
  const rewarm: number[] = [];
  const server = await startLogsrv({ repoRoot: ctx.repoRoot, dataDir: ds.dir, args: ['--log-level', 'warn'] });
  const server_: Latencies[] = kinds.map(() => ({ p50: [], p99: [], requests: [] }));
  /** The server's major page faults (reads that waited for the disk) during each repetition, per kind. */
  const majorFaults: number[][] = kinds.map(() => []);
  const bare: Latencies[] = kinds.map(() => ({ p50: [], p99: [], requests: [] }));
  const viaFetch: Latencies = { p50: [], p99: [], requests: [] };
  try {
    // Warm-up: statement caches and JIT, a few requests of each kind (the page cache: warmPageCache).
    for (const k of kinds) await timeRequests(server.url, k, 30, 5, rngAt(7));
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const [i, k] of kinds.entries()) {
        rewarm.push(warmPageCache(ds).seconds);
        const faults0 = processMajorFaults(server.pid);
        const ms = await timeRequests(server.url, k, ctx.seconds, maxRequests, rngAt(1000 * rep + i));
        const major = processMajorFaults(server.pid) - faults0;
        majorFaults[i]?.push(major);
        const s = server_[i] as Latencies;
        s.p50.push(quantile(ms, 0.5));
        s.p99.push(quantile(ms, 0.99));
        s.requests.push(ms.length);
        let line = `  rep ${rep + 1}, ${k.name}: ${ms.length} requests, p50 ${fmt(quantile(ms, 0.5))} ms, p99 ${fmt(quantile(ms, 0.99))} ms, server major page faults ${fmt(major)}`;
        if (k.short === 'session') {
          // The same requests through fetch + arrayBuffer(), as this benchmark timed them before.
          const f = await timeFetch(server.url, k, ctx.seconds, maxRequests, rngAt(1000 * rep + i));
          viaFetch.p50.push(quantile(f, 0.5));
          viaFetch.p99.push(quantile(f, 0.99));
          viaFetch.requests.push(f.length);
          line += ` | fetch + arrayBuffer p50 ${fmt(quantile(f, 0.5))} ms, p99 ${fmt(quantile(f, 0.99))} ms`;
        }
        if (k.bare) {
          const b = timeBare(k, ctx.seconds, maxRequests, rngAt(1000 * rep + i));
          const bl = bare[i] as Latencies;
          bl.p50.push(quantile(b, 0.5));
          bl.p99.push(quantile(b, 0.99));
          bl.requests.push(b.length);
          line += ` | bare SQLite p50 ${fmt(quantile(b, 0.5))} ms, p99 ${fmt(quantile(b, 0.99))} ms`;
        }
        ctx.log(line);
      }
    }
  } finally {
    for (const db of days) db.close();
    await server.stop();
  }
  notes.push(
    `Page cache: every file of the data set was read before the server started (${fmt(warm.bytes / 1e6)} MB in ${fmt(warm.seconds)} s) and again before each repetition of each kind (${rewarm.length} reads, ${fmt(Math.min(...rewarm))}-${fmt(Math.max(...rewarm))} s each), so that the server and bare SQLite both read from memory on a machine that pages out file pages left untouched; the server's major page faults per repetition are below.`,
  );
  const figures: Figure[] = [];
  for (const [i, k] of kinds.entries()) {
    const s = server_[i] as Latencies;
    const b = bare[i] as Latencies;
    for (const q of ['p50', 'p99'] as const) {
      const m = measurement(`server ${q}`, 'ms', s[q]);
      const fig: Figure = { ...m, case: k.name };
      if (k.bare) {
        fig.baseline = measurement(`bare SQLite ${q}, same files`, 'ms', b[q]);
        fig.ratio = m.median / fig.baseline.median;
      }
      if (q === 'p99' && k.targetP99Ms !== undefined) fig.targets = [{ text: `p99 ≤ ${k.targetP99Ms} ms`, met: m.median <= k.targetP99Ms }];
      figures.push(fig);
    }
    notes.push(
      `${k.name}: ${s.requests.join(' / ')} requests per repetition, one at a time, each timed to its last byte on a keep-alive socket; server major page faults (pages read from disk, not the page cache) ${(majorFaults[i] ?? []).map(fmt).join(' / ')}.`,
    );
    if (k.short === 'session')
      notes.push(
        `${k.name} through fetch + arrayBuffer() in this process (how this benchmark timed it before; the rest is that client's cost): p50 ${viaFetch.p50.map(fmt).join(' / ')} ms, p99 ${viaFetch.p99.map(fmt).join(' / ')} ms.`,
      );
  }
  return figures;
}

/** A copy of the data set to write into: older days hard-linked (never written), the last day and the registry copied. */
function workCopy(ds: QueryDataset): string {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-bench-query-ingest-'));
  const dbs = readdirSync(ds.dir)
    .filter((f) => /^events-\d{8}\.db$/.test(f))
    .sort();
  const last = dbs[dbs.length - 1];
  for (const f of readdirSync(ds.dir)) {
    if (!f.endsWith('.db')) continue;
    // The last day and its index file are written to: copies, not links into the cache.
    // The last day's chunk file is written too (session-chunks.ts): copied, never linked.
    if (f === last || (last !== undefined && (f === last.replace(/\.db$/, '.fts.db') || f === last.replace(/\.db$/, '.sess.db'))) || f === 'registry.db')
      copyFileSync(join(ds.dir, f), join(dir, f));
    else linkSync(join(ds.dir, f), join(dir, f));
  }
  return dir;
}

interface IngestTarget {
  label: string;
  server: LogsrvProcess;
  client: ClientProcess;
  dataDir: string;
  rates: number[];
}

async function measureIngest(ctx: BenchContext, ds: QueryDataset, notes: string[]): Promise<Figure[]> {
  const warmupMs = envNumber('BENCH_WARMUP_SECONDS', 5, 0) * 1000;
  const targets: IngestTarget[] = [];
  const cleanup: string[] = [];
  try {
    const start = async (label: string, dataDir: string, args: string[], nodeArgs: string[], tag: string) => {
      const server = await startLogsrv({ repoRoot: ctx.repoRoot, dataDir, args: ['--log-level', 'warn', ...args], nodeArgs });
      const { client } = await ClientProcess.start(ctx.repoRoot, {
        url: server.url,
        eventsPerRequest: 1000,
        connections: 8,
        ringBytes: 32 * 1024 * 1024,
        tag,
        seed: 1000,
      });
      targets.push({ label, server, client, dataDir, rates: [] });
    };
    const empty = (p: string) => {
      const d = mkdtempSync(join(tmpdir(), p));
      cleanup.push(d);
      return d;
    };
    ctx.log('  ingest: copying the data set’s last day to write into');
    const atN = workCopy(ds);
    cleanup.push(atN);
    // The server's clock starts just after the data set's last event, so it appends to that day's
    // file (20:00 at the latest; the day has hours left) — a preloaded module shifts Date.now.
    const offset = ds.lastMs + 1000 - Date.now();
    const shift = `data:text/javascript,const now=Date.now;Date.now=()=>now()+(${offset});`;
    await start('index on, empty store', empty('logsrv-bench-query-on-'), [], [], 'qon0');
    await start('index off, empty store', empty('logsrv-bench-query-off-'), ['--search-index', 'off'], [], 'qoff');
    await start(`index on, ${fmt(ds.events)} stored`, atN, [], ['--import', shift], 'qatn');
    for (const t of targets) {
      if (warmupMs > 0) await t.client.run(warmupMs);
    }
    for (let rep = 1; rep <= ctx.reps; rep++) {
      const line: string[] = [];
      for (const t of targets) {
        const r = await t.client.run(ctx.seconds * 1000);
        if (r.errors.length > 0 || r.rejected > 0)
          throw new Error(`${t.label}: ${r.errors.length} errors, ${r.rejected} rejected — ${r.errors.slice(0, 3).join(' | ')}`);
        t.rates.push(r.accepted / r.seconds);
        line.push(`${t.label} ${fmt(r.accepted / r.seconds)} events/s`);
      }
      ctx.log(`  rep ${rep}: ${line.join(', ')}`);
    }
    // Where the at-N server wrote: the data set's last day file must have grown.
    const last = readdirSync(atN)
      .filter((f) => /^events-\d{8}\.db$/.test(f))
      .sort();
    notes.push(
      `At-N server wrote into ${last[last.length - 1]} (${fmt(statSync(join(atN, last[last.length - 1] as string)).size / 1e6)} MB after the run); its store held ${fmt(ds.events)} events in ${last.length} day files.`,
    );
  } finally {
    for (const t of targets) {
      await t.client.close().catch(() => {});
      await t.server.stop().catch((err: Error) => ctx.log(`  (server stop: ${err.message.split('\n')[0]})`));
    }
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  }
  const [on, off, atN] = targets as [IngestTarget, IngestTarget, IngestTarget];
  const onM = measurement('server events/s, index on', 'events/s', on.rates);
  const offM = measurement('server events/s, --search-index off', 'events/s', off.rates);
  const atNM = measurement(`server events/s, index on, ${fmt(ds.events)} stored`, 'events/s', atN.rates);
  notes.push(
    `Ingest paired ratios per repetition — index on ÷ off: ${on.rates.map((r, i) => fmtRatio(r / (off.rates[i] as number))).join(' / ')}; at N ÷ empty: ${atN.rates.map((r, i) => fmtRatio(r / (on.rates[i] as number))).join(' / ')}.`,
  );
  return [
    {
      ...onM,
      case: 'ingest, full-text index',
      baseline: offM,
      ratio: onM.median / offM.median,
      targets: [{ text: `≥${TARGET_INDEX_RATIO}× index off`, met: onM.median / offM.median >= TARGET_INDEX_RATIO }],
    },
    {
      ...atNM,
      case: 'ingest, store size',
      baseline: onM,
      ratio: atNM.median / onM.median,
      targets: [{ text: `≥${TARGET_SIZE_RATIO}× empty store`, met: atNM.median / onM.median >= TARGET_SIZE_RATIO }],
    },
  ];
}

/** CPU time of this thread while `fn` runs, in µs. */
function cpuMicros(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return c.user + c.system;
}

async function measureTokenizers(ctx: BenchContext, ds: QueryDataset, notes: string[]): Promise<Figure[]> {
  const rows = 100_000;
  const src = openDays(ds.dir);
  const sample = (src[0] as Database.Database).prepare(`SELECT value FROM events ORDER BY rowid LIMIT ${rows}`).pluck().all() as string[];
  for (const db of src) db.close();
  const { SCHEMA, applyPragmas } = (await import(pathToFileURL(join(ctx.repoRoot, 'packages/server/dist/store/sqlite/schema.js')).href)) as {
    SCHEMA: string;
    applyPragmas: (db: Database.Database, s: 'normal') => void;
  };
  const variants: [string, string | null][] = [
    ['no index', null],
    ['unicode61 remove_diacritics 2 (chosen)', 'unicode61 remove_diacritics 2'],
    ['trigram', 'trigram'],
  ];
  const cpu: number[][] = variants.map(() => []);
  const bytes: number[] = [];
  for (let rep = 0; rep < ctx.reps; rep++) {
    for (const [v, [label, tokenizer]] of variants.entries()) {
      const dir = mkdtempSync(join(tmpdir(), 'logsrv-bench-tok-'));
      try {
        const db = new Database(join(dir, 'day.db'));
        applyPragmas(db, 'normal');
        db.exec(SCHEMA);
        if (tokenizer) db.exec(`CREATE VIRTUAL TABLE events_fts USING fts5 (value, content = 'events', content_rowid = 'rowid', tokenize = '${tokenizer}')`);
        const insert = db.prepare("INSERT INTO events (ms, seq, session, key, value, vjson) VALUES (?, ?, 'q-000001', 'stdout', ?, 0)");
        const index = tokenizer ? db.prepare('INSERT INTO events_fts (rowid, value) SELECT rowid, value FROM events WHERE rowid >= ?') : null;
        // Batches of 10,000 rows, each in its transaction — as the writer commits.
        const batch = db.transaction((from: number) => {
          let first = -1;
          for (let i = from; i < Math.min(rows, from + 10_000); i++) {
            const r = insert.run(1, i, sample[i]);
            if (first < 0) first = Number(r.lastInsertRowid);
          }
          index?.run(first);
        });
        const us = cpuMicros(() => {
          for (let i = 0; i < rows; i += 10_000) batch(i);
        });
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
        (cpu[v] as number[]).push(us / rows);
        if (rep === 0) bytes.push(statSync(join(dir, 'day.db')).size / rows);
        ctx.log(`  rep ${rep + 1}, ${label}: ${fmt(us / rows)} µs CPU per row${rep === 0 ? `, ${fmt(bytes[v] as number)} bytes per row` : ''}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const base = measurement('no index', 'µs CPU/row', cpu[0] as number[]);
  const figures: Figure[] = [];
  for (let v = 1; v < variants.length; v++) {
    const m = measurement(`insert + index, ${(variants[v] as [string, string | null])[0]}`, 'µs CPU/row', cpu[v] as number[]);
    figures.push({ ...m, case: 'tokenizer', baseline: base, ratio: m.median / base.median });
  }
  notes.push(
    `Tokenizers on ${fmt(rows)} rows of the data set, single thread, 10,000 rows per transaction: bytes per row ${variants.map(([l], v) => `${l} ${fmt(bytes[v] as number)}`).join(', ')}.`,
  );
  return figures;
}

export const query: Benchmark = {
  name: 'query',
  description:
    'Reads and searches over a stored data set (default 10M events, 3 days) through the real server, p50/p99 one request at a time, beside bare SQLite on the same files; ingest with the full-text index vs without, and into a day of the large store vs an empty one; FTS5 tokenizer costs.',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const events = envNumber('BENCH_QUERY_EVENTS', 10_000_000, 30_000);
    const ds = await queryDataset(ctx.repoRoot, events, ctx.log);
    const notes: string[] = [];
    if (ds.generatedSeconds !== null)
      notes.push(`Data set generated in this run: ${fmt(ds.events)} events in ${fmt(ds.generatedSeconds)} s through the store (no HTTP).`);
    const sizes = Object.entries(ds.files)
      .map(([f, b]) => `${f} ${fmt(b / 1e6)} MB`)
      .join(', ');
    notes.push(`Data set: ${fmt(ds.events)} events, ${ds.sessions.length} sessions of 10,000 events, ${ds.users.length} users; files ${sizes}.`);
    const parts = envList('BENCH_QUERY_PARTS', ['queries', 'ingest', 'tokenizers']);
    const figures: Figure[] = [];
    if (parts.includes('queries')) {
      ctx.log('query: reads and searches, one request at a time');
      figures.push(...(await measureQueries(ctx, ds, notes)));
    }
    if (parts.includes('ingest')) {
      ctx.log('query: ingest — index on vs off, and at N stored vs empty, in turn');
      figures.push(...(await measureIngest(ctx, ds, notes)));
    }
    if (parts.includes('tokenizers')) {
      ctx.log('query: tokenizer costs');
      figures.push(...(await measureTokenizers(ctx, ds, notes)));
    }
    const p99 = (name: string) => {
      const ms = figures.filter((f) => f.case === name && f.label === 'server p99').map((f) => f.median);
      return ms.length > 0 ? `${fmt(median(ms))} ms` : 'not measured';
    };
    ctx.log(`  session read p99 ${p99("one session's 10k events")}, rare word p99 ${p99('rare word')}`);
    return {
      figures,
      notes,
      params: {
        events: ds.events,
        days: 3,
        sessions: ds.sessions.length,
        eventsPerSession: 10_000,
        users: ds.users.length,
        rareWords: `${RARE_WORDS} words, ~3 events each`,
        commonWord: `${COMMON_WORD} (~40% of events)`,
        maxRequestsPerKind: envNumber('BENCH_QUERY_MAX_REQUESTS', 400, 10),
        ingest: '1000 events/request, 8 connections, the ingest-http workload',
        server: 'node bin/logsrv serve, default options, --log-level warn',
      },
    };
  },
};
