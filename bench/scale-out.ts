/**
 * `scale-out`: the deployment over Redis Streams and PostgreSQL, as separate processes on this
 * machine — one receiver (`--role receiver`) taking NDJSON from the load client, 1, 2 or 4 writers
 * (`--role writer`), and for latency a reader (`--role reader`).
 *
 * - Ingest events/s (each request answered after its events are committed to PostgreSQL) against
 *   the baseline of a plain `COPY` of the same rows from Node into a table with the same keys,
 *   measured right after each repetition — with the search index off and on.
 * - Tail latency: one event every 20 ms posted to the receiver, the time until the reader's SSE
 *   tail delivers it, p50/p99 — against the embedded server (`--role all`, SQLite) doing the same.
 * - RSS of each role after the load.
 *
 * Services: Redis at BENCH_REDIS (default redis://127.0.0.1:6379/14, flushed per case) and a
 * fresh database per case on BENCH_PG (default postgres://postgres@127.0.0.1:5432/test).
 * Env: BENCH_SECONDS, BENCH_REPS, BENCH_CONNECTIONS (8), BENCH_WRITERS ("1,2,4").
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { ClientProcess, type ClientRunResult } from './lib/client-process.ts';
import { envNumber } from './lib/env.ts';
import { type LogsrvProcess, startLogsrv } from './lib/logsrv-process.ts';
import { PgCopyBaseline } from './lib/pg-copy-baseline.ts';
import { withDatabase } from './lib/pg-database.ts';
import { fmt, fmtRatio, measurement, median, quantile } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';

const REDIS = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379/14';
const EVENTS_PER_REQUEST = 1000;

async function flushRedis(): Promise<void> {
  const r = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  await r.flushdb();
  r.disconnect();
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

interface Deployment {
  receiver: LogsrvProcess;
  writers: LogsrvProcess[];
  reader: LogsrvProcess | null;
  stop(): Promise<void>;
}

async function deploy(ctx: BenchContext, pg: string, writers: number, searchIndex: 'on' | 'off', withReader: boolean): Promise<Deployment> {
  const dirs: string[] = [];
  const start = async (role: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), `logsrv-bench-${role}-`));
    dirs.push(dataDir);
    return startLogsrv({
      repoRoot: ctx.repoRoot,
      dataDir,
      args: ['--role', role, '--queue', REDIS, '--store', pg, '--queue-shards', '4', '--search-index', searchIndex, '--log-level', 'warn'],
    });
  };
  const ws: LogsrvProcess[] = [];
  for (let i = 0; i < writers; i++) ws.push(await start('writer'));
  const receiver = await start('receiver');
  const reader = withReader ? await start('reader') : null;
  return {
    receiver,
    writers: ws,
    reader,
    async stop() {
      for (const p of [receiver, ...(reader ? [reader] : []), ...ws]) await p.stop().catch((err: Error) => ctx.log(`  (stop: ${err.message.split('\n')[0]})`));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

interface IngestCase {
  runs: ClientRunResult[];
  baseline: number[];
  rss: { receiver: number; writer: number };
}

async function ingestCase(ctx: BenchContext, writers: number, searchIndex: 'on' | 'off'): Promise<IngestCase> {
  await flushRedis();
  return withDatabase((url) => ingestInto(ctx, url, writers, searchIndex));
}

async function ingestInto(ctx: BenchContext, dbUrl: string, writers: number, searchIndex: 'on' | 'off'): Promise<IngestCase> {
  const db = { url: dbUrl };
  const connections = envNumber('BENCH_CONNECTIONS', 8, 1);
  let dep: Deployment | null = null;
  let client: ClientProcess | null = null;
  let base: PgCopyBaseline | null = null;
  const out: IngestCase = { runs: [], baseline: [], rss: { receiver: 0, writer: 0 } };
  try {
    dep = await deploy(ctx, db.url, writers, searchIndex, false);
    const tag = `w${writers}${searchIndex === 'on' ? 'i' : 'n'}x`.slice(0, 4);
    const started = await ClientProcess.start(ctx.repoRoot, {
      url: dep.receiver.url,
      eventsPerRequest: EVENTS_PER_REQUEST,
      connections,
      ringBytes: 16 * 1024 * 1024,
      tag,
      seed: writers,
    });
    client = started.client;
    base = await PgCopyBaseline.open(db.url, tag, writers + 100);
    let accepted = 0;
    const warm = await client.run(3000);
    accepted += warm.accepted;
    for (let rep = 1; rep <= ctx.reps; rep++) {
      const r = await client.run(ctx.seconds * 1000);
      if (r.errors.length > 0) throw new Error(`scale-out ${writers} writers: ${r.errors.slice(0, 3).join(' | ')}`);
      accepted += r.accepted;
      out.runs.push(r);
      const copy = await base.measure(100_000, EVENTS_PER_REQUEST);
      out.baseline.push(copy);
      const eps = r.accepted / r.seconds;
      ctx.log(
        `  ${writers} writer(s), search index ${searchIndex}, rep ${rep}: ${fmt(eps)} events/s, p99 ${fmt(r.latencyMsP99)} ms, ${r.overloaded} × 503 | COPY ${fmt(copy)} rows/s → ${fmtRatio(eps / copy)}`,
      );
    }
    out.rss = { receiver: rssMiB(dep.receiver.pid), writer: Math.max(...dep.writers.map((w) => rssMiB(w.pid))) };
    await client.close();
    client = null;
    // Every acknowledged event is in PostgreSQL, once.
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const [{ n }] = (await sql`SELECT count(*)::bigint AS n FROM events`) as unknown as [{ n: string }];
    await sql.end({ timeout: 1 });
    if (Number(n) !== accepted) throw new Error(`ROW COUNT MISMATCH: ${accepted} events acknowledged, ${n} rows in PostgreSQL`);
    ctx.log(`  verified: ${fmt(Number(n))} rows in PostgreSQL = events acknowledged`);
  } finally {
    await client?.close().catch(() => {});
    await base?.close().catch(() => {});
    await dep?.stop();
  }
  return out;
}

/** Posts one event every 20 ms to `ingest` and times its arrival on `tail`'s SSE stream. */
async function tailLatency(ingest: string, tail: string, ms: number): Promise<number[]> {
  const session = `lat-${Math.random().toString(36).slice(2, 8)}`;
  const sent = new Map<string, number>();
  const got: number[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let req: http.ClientRequest | null = null;
  await new Promise<void>((res) => {
    req = http.get(`${tail}/v1/sessions/${session}/tail?from=now`, (r) => {
      r.setEncoding('utf8');
      let buf = '';
      r.on('data', (s: string) => {
        buf += s;
        for (let cut = buf.indexOf('\n\n'); cut >= 0; cut = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (!data) continue;
          const v = (JSON.parse(data) as { value: string }).value;
          const t0 = sent.get(v);
          if (t0 !== undefined) got.push(performance.now() - t0);
        }
      });
      res();
    });
  });
  await new Promise((r) => setTimeout(r, 300));
  const until = Date.now() + ms;
  for (let i = 0; Date.now() < until; i++) {
    const value = `v${i}`;
    const body = JSON.stringify({ session, key: 'stdout', value });
    sent.set(value, performance.now());
    await new Promise<void>((res, rej) => {
      const p = http.request(`${ingest}/v1/events`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (r) => {
        r.resume();
        r.on('end', res);
      });
      p.on('error', rej);
      p.end(body);
    });
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 500));
  (req as http.ClientRequest | null)?.destroy();
  agent.destroy();
  return got;
}

export const scaleOut: Benchmark = {
  name: 'scale-out',
  description:
    'receiver + 1/2/4 writers over Redis Streams into PostgreSQL vs COPY of the same rows; tail latency via a reader vs the embedded server; RSS per role',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const figures: Figure[] = [];
    const notes: string[] = [];
    const writerCounts = (process.env.BENCH_WRITERS ?? '1,2,4').split(',').map(Number);
    const rss: string[] = [];
    for (const searchIndex of ['off', 'on'] as const) {
      for (const w of writerCounts) {
        const c = await ingestCase(ctx, w, searchIndex);
        const m = measurement(
          `ingest, ${w} writer(s), search index ${searchIndex}`,
          'events/s',
          c.runs.map((r) => r.accepted / r.seconds),
        );
        const b = measurement('PostgreSQL COPY from Node, 1000 rows/txn', 'rows/s', c.baseline);
        const ratio = m.median / b.median;
        figures.push({
          ...m,
          case: `${w} writer(s), index ${searchIndex}`,
          baseline: b,
          ratio,
          targets: w === 1 && searchIndex === 'off' ? [{ text: '≥0.7× COPY', met: ratio >= 0.7 }] : undefined,
        });
        rss.push(`${w} writer(s), index ${searchIndex}: receiver ${fmt(c.rss.receiver)} MiB, writer ${fmt(c.rss.writer)} MiB`);
        notes.push(
          `${w} writer(s), index ${searchIndex}: request latency p50 ${fmt(median(c.runs.map((r) => r.latencyMsP50)))} ms, p99 ${fmt(median(c.runs.map((r) => r.latencyMsP99)))} ms; ${c.runs.reduce((s, r) => s + r.overloaded, 0)} requests answered 503.`,
        );
      }
    }
    // Tail latency: the deployment's reader against the embedded server.
    const scaled: number[] = [];
    const embedded: number[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      await flushRedis();
      await withDatabase(async (url) => {
        const dep = await deploy(ctx, url, 1, 'on', true);
        try {
          const lat = await tailLatency(dep.receiver.url, (dep.reader as LogsrvProcess).url, Math.min(ctx.seconds, 5) * 1000);
          scaled.push(quantile(lat, 0.99));
          rss.push(`reader after the latency run: ${fmt(rssMiB((dep.reader as LogsrvProcess).pid))} MiB`);
        } finally {
          await dep.stop();
        }
      });
      const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-bench-emb-'));
      const emb = await startLogsrv({ repoRoot: ctx.repoRoot, dataDir, args: ['--log-level', 'warn'] });
      try {
        const lat = await tailLatency(emb.url, emb.url, Math.min(ctx.seconds, 5) * 1000);
        embedded.push(quantile(lat, 0.99));
      } finally {
        await emb.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
      ctx.log(`  tail latency rep ${rep + 1}: scale-out p99 ${fmt(scaled[rep] as number)} ms, embedded p99 ${fmt(embedded[rep] as number)} ms`);
    }
    const lat = measurement('write → reader SSE, p99, 50 events/s', 'ms', scaled);
    const latBase = measurement('embedded server, same workload, p99', 'ms', embedded);
    figures.push({ ...lat, case: 'tail latency', baseline: latBase, ratio: lat.median / latBase.median });
    notes.push(`RSS per role: ${rss.join('; ')}.`);
    return { figures, notes, params: { eventsPerRequest: EVENTS_PER_REQUEST, shards: 4, writers: writerCounts, redis: REDIS } };
  },
};
