/**
 * `pg-append`: PostgresStore.append (the PostgreSQL writer's whole transaction: producer marks,
 * COPY, summaries) against the baseline of a plain `COPY` of the same rows
 * from Node, in the same run, into a table with the same partitions, primary key and
 * (session, ms, seq) index — the ceiling of a store that did nothing but store. The store is
 * measured with the GIN search index and without it (`searchIndex: false`: no tokens stored, `q`
 * then reads those days' rows).
 *
 * Each repetition gets a fresh database on PG_URL's server (default
 * postgres://postgres@127.0.0.1:5432/test), dropped after. Env: PG_APPEND_EVENTS (default
 * 100,000), PG_APPEND_BATCH (events per append/transaction, default 5,000). The
 * two-writer case shards the same events by session over two stores with their own connections.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NormalizedEvent } from '@logsrv/protocol';
import postgres from 'postgres';
import { withDatabase } from './lib/pg-database.ts';
import { fmt, fmtRatio, measurement } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';

const EVENTS = Number(process.env.PG_APPEND_EVENTS ?? 100_000);
const BATCH = Number(process.env.PG_APPEND_BATCH ?? 5_000);

interface Batch {
  events: NormalizedEvent[];
  ms: Float64Array;
  seq: Float64Array;
}

interface StoreLike {
  append(b: Batch): Promise<{ skipped?: number[] }>;
  close(): Promise<void>;
}

const WORDS = ['GET', 'POST', '/items/', 'timeout', 'connected', 'user', 'error', 'retry', 'ok', 'cache', 'miss', 'db', 'query', 'took', 'ms', 'build', 'step'];

/**
 * Deterministic events of ~150 bytes of log text: words from a small vocabulary and numbers below
 * 10,000 (so ~10k distinct tokens, as ids and durations give real logs), 200 sessions each with its
 * own user and component, levels, a producer on half of them.
 */
function makeBatches(start: number): Batch[] {
  let x = 12345;
  const rnd = () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
  const out: Batch[] = [];
  for (let at = 0; at < EVENTS; at += BATCH) {
    const n = Math.min(BATCH, EVENTS - at);
    const events: NormalizedEvent[] = [];
    const ms = new Float64Array(n);
    const seq = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const k = at + i;
      let value = '';
      while (value.length < 120) value += `${WORDS[Math.floor(rnd() * WORDS.length)]} ${Math.floor(rnd() * 10_000)} `;
      const session = `bench-${k % 200}`;
      events.push({
        session,
        key: k % 10 === 0 ? 'status' : 'stdout',
        value,
        vjson: 0,
        ts: null,
        component: `svc-${(k % 200) % 7}`,
        user: `user-${(k % 200) % 13}`,
        terminal: null,
        step: null,
        level: k % 10 === 3 ? 'error' : 'info',
        attrs: null,
        producer: k % 2 === 0 ? `prod-${k % 20}` : null,
        pseq: k % 2 === 0 ? k : null,
      });
      ms[i] = start + Math.floor(k / 50);
      seq[i] = k % 50;
    }
    out.push({ events, ms, seq });
  }
  return out;
}

function copyField(v: string | number | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return /[\\\n\r\t]/.test(v) ? v.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t')) : v;
}

/** Plain COPY of the same rows, one transaction per batch, into the same shape of table. */
async function baseline(url: string, batches: Batch[], day0: number): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE TABLE base (ms bigint NOT NULL, seq bigint NOT NULL, session text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL,
      value text NOT NULL, vjson smallint NOT NULL, ts bigint, component text COLLATE "C", "user" text COLLATE "C", terminal text COLLATE "C",
      step text COLLATE "C", level text COLLATE "C", attrs text, producer text COLLATE "C", pseq bigint, PRIMARY KEY (ms, seq)) PARTITION BY RANGE (ms)`);
    for (let d = 0; d < 2; d++) {
      const from = day0 + d * 86_400_000;
      await sql.unsafe(`CREATE TABLE base_${d} PARTITION OF base FOR VALUES FROM (${from}) TO (${from + 86_400_000})`);
    }
    await sql.unsafe('CREATE INDEX base_session ON base (session, ms, seq)');
    const t0 = performance.now();
    for (const b of batches) {
      await sql.begin(async (tx) => {
        const w =
          await tx`COPY base (ms, seq, session, key, value, vjson, ts, component, "user", terminal, step, level, attrs, producer, pseq) FROM STDIN`.writable();
        const done = new Promise<void>((resolve, reject) => {
          w.once('finish', resolve);
          w.once('error', reject);
        });
        let chunk = '';
        b.events.forEach((e, i) => {
          chunk += `${b.ms[i]}\t${b.seq[i]}\t${[e.session, e.key, e.value, e.vjson, e.ts, e.component, e.user, e.terminal, e.step, e.level, e.attrs, e.producer, e.pseq].map(copyField).join('\t')}\n`;
          if (chunk.length > 256 * 1024) {
            w.write(chunk);
            chunk = '';
          }
        });
        w.end(chunk);
        await done;
      });
    }
    return (EVENTS / (performance.now() - t0)) * 1000;
  } finally {
    await sql.end();
  }
}

/** The events of the sessions writer `w` of `writers` owns (sessions are sharded, as the queue does), in batches of BATCH. */
function shard(batches: Batch[], w: number, writers: number): Batch[] {
  const events: NormalizedEvent[] = [];
  const ms: number[] = [];
  const seq: number[] = [];
  for (const b of batches) {
    b.events.forEach((e, i) => {
      if (Number(e.session.slice(6)) % writers !== w) return;
      events.push(e);
      ms.push(b.ms[i] as number);
      seq.push(b.seq[i] as number);
    });
  }
  const out: Batch[] = [];
  for (let at = 0; at < events.length; at += BATCH) {
    out.push({ events: events.slice(at, at + BATCH), ms: Float64Array.from(ms.slice(at, at + BATCH)), seq: Float64Array.from(seq.slice(at, at + BATCH)) });
  }
  return out;
}

/** `writers` stores (each its own connections, as separate processes would have) appending their shards at once. */
async function storeRun(ctx: BenchContext, url: string, batches: Batch[], searchIndex: boolean, writers = 1): Promise<number> {
  const mod = (await import(pathToFileURL(join(ctx.repoRoot, 'packages/server/dist/store/postgres/postgres-store.js')).href)) as {
    PostgresStore: { open(url: string, opts: { searchIndex: boolean; clock: () => number }): Promise<StoreLike> };
  };
  const day0 = batches[0]?.ms[0] as number;
  const stores: StoreLike[] = [];
  try {
    for (let w = 0; w < writers; w++) stores.push(await mod.PostgresStore.open(url, { searchIndex, clock: () => day0 }));
    const shards = stores.map((_s, w) => (writers === 1 ? batches : shard(batches, w, writers)));
    const t0 = performance.now();
    const stored = await Promise.all(
      stores.map(async (store, w) => {
        let n = 0;
        for (const b of shards[w] as Batch[]) n += b.events.length - ((await store.append(b)).skipped?.length ?? 0);
        return n;
      }),
    );
    const rate = (EVENTS / (performance.now() - t0)) * 1000;
    const total = stored.reduce((a, b) => a + b, 0);
    if (total !== EVENTS) throw new Error(`stored ${total} of ${EVENTS} events`);
    return rate;
  } finally {
    for (const s of stores) await s.close();
  }
}

export const pgAppend: Benchmark = {
  name: 'pg-append',
  description: 'PostgresStore.append events/s (with and without the search index) against plain COPY of the same rows from Node',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const day0 = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const batches = makeBatches(day0 + 3_600_000);
    const base: number[] = [];
    const withIndex: number[] = [];
    const without: number[] = [];
    const twoWriters: number[] = [];
    const perRep: string[] = [];
    for (let r = 0; r < ctx.reps; r++) {
      // Each store run right beside the baseline: this machine's load changes from one minute to the next.
      without.push(await withDatabase((url) => storeRun(ctx, url, batches, false)));
      base.push(await withDatabase((url) => baseline(url, batches, day0)));
      withIndex.push(await withDatabase((url) => storeRun(ctx, url, batches, true)));
      twoWriters.push(await withDatabase((url) => storeRun(ctx, url, batches, false, 2)));
      const [c, w, g] = [base[r] as number, without[r] as number, withIndex[r] as number];
      perRep.push(`${(w / c).toFixed(2)}/${(g / c).toFixed(2)}`);
      ctx.log(`  rep ${r + 1}: COPY ${fmt(c)}/s, store ${fmt(w)}/s (${fmtRatio(w / c)}), store+GIN ${fmt(g)}/s (${fmtRatio(g / c)})`);
    }
    const b = measurement('plain COPY', 'events/s', base);
    const fig = (label: string, runs: number[], target: number): Figure => {
      const m = measurement(label, 'events/s', runs);
      const ratio = m.median / b.median;
      return { ...m, case: `${fmt(BATCH)} events/append`, baseline: b, ratio, targets: [{ text: `≥${target}× COPY`, met: ratio >= target }] };
    };
    const figures = [
      fig('PostgresStore.append, no search index', without, 0.7),
      fig('PostgresStore.append, GIN search index', withIndex, 0.25),
      fig('2 PostgresStores appending their session shards at once, no search index', twoWriters, 0.7),
    ];
    return {
      figures,
      notes: [
        `${fmt(EVENTS)} events of ~200 bytes, 200 sessions, half with a producer; each repetition in a fresh database.`,
        `ratios of medians: no index ${fmtRatio(figures[0]?.ratio)}, GIN ${fmtRatio(figures[1]?.ratio)}; per repetition (no index/GIN against the COPY run beside them): ${perRep.join(', ')}`,
        'the store does per batch: lock producer marks, COPY with the tokens (GIN) or without (no index), 5 summary upserts; the baseline only COPYs',
      ],
      params: { events: EVENTS, batch: BATCH },
    };
  },
};
