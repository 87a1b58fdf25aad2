/**
 * `ingest-http`: end-to-end HTTP ingest of the embedded pipeline — NDJSON over keep-alive
 * connections to the real `logsrv serve` process, each response arriving only after its events are
 * committed to SQLite — against bare better-sqlite3 inserting the same rows in transactions of the
 * size the server's group commit produced. The ratio says how much of SQLite's insert speed the
 * whole pipeline (HTTP, parsing, validation, queue, worker hand-off) keeps.
 *
 * Knobs (env): BENCH_SECONDS (per repetition, default 5), BENCH_REPS (≥ 3), BENCH_CONNECTIONS (8),
 * BENCH_WARMUP_SECONDS (5), BENCH_BASELINE_ROWS (rows per baseline repetition, 200000),
 * BENCH_CPU_PROF=DIR (run the server with --cpu-prof, profiles written to DIR).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientProcess, type ClientRunResult } from './lib/client-process.ts';
import { envNumber } from './lib/env.ts';
import { hostBusyMs, processCpuMs } from './lib/host-load.ts';
import { cpuByRole, cpuPerEvent, describeRoles, INDEX_WAIT_METRIC, type LogsrvProcess, metricDelta, startLogsrv, threadCpuMs } from './lib/logsrv-process.ts';
import { SqliteBaseline } from './lib/sqlite-baseline.ts';
import { fmt, fmtPct, fmtRatio, measurement, median } from './lib/stats.ts';
import { summarizeStore } from './lib/stored-rows.ts';
import type { BenchContext, Benchmark, BenchReport, Figure, Measurement } from './lib/types.ts';

const EVENTS_PER_REQUEST = [100, 1000];
const TARGET_RATIO = 0.8;
const TARGET_EVENTS_PER_SEC_1000 = 100_000;

interface CaseResult {
  eventsPerRequest: number;
  runs: ClientRunResult[];
  /** Mean events per writer transaction in each timed repetition. */
  batches: number[];
  /** Bare SQLite rows/s at each repetition's batch size, measured right after it. */
  baseline: number[];
  baselineRowBytes: number;
  notes: string[];
}

function check(r: ClientRunResult, what: string): void {
  if (r.errors.length > 0 || r.rejected > 0) {
    throw new Error(`${what}: ${r.errors.length} errors, ${r.rejected} rejected events — first: ${r.errors.slice(0, 3).join(' | ')}`);
  }
  if (r.requests === 0) throw new Error(`${what}: no request completed`);
}

/**
 * CPU of the server's threads over the timed windows, by the names the server gives them (main,
 * writer, index, chunks, ...; `node` is Node.js's and V8's own, garbage collection mostly), as %
 * of one core and as µs per event accepted in them (on a shared machine, steadier than events/s).
 * Work a thread leaves for later (the chunk thread, at nice 19, when starved) counts when it is done:
 * each repetition's line gives the derived files' lag at its end (rows committed, not yet in them).
 */
function cpuSplit(pid: number, used: Map<number, number>, seconds: number, events: number): string {
  const roles = cpuByRole(pid, new Map(), used);
  const perEvent = cpuPerEvent(roles, events);
  return `server threads ${describeRoles(roles, (ms) => `${(ms / 10 / seconds).toFixed(0)}%`)}; server CPU ${perEvent.total} µs/event (${perEvent.byRole})`;
}

/**
 * One workload case against a fresh server. Each timed repetition is followed by a baseline
 * repetition at the transaction size the server just committed, so both see the same background
 * load on this shared machine (running all baselines at the end would compare different minutes).
 */
async function runCase(ctx: BenchContext, eventsPerRequest: number, tag: string): Promise<CaseResult> {
  const connections = envNumber('BENCH_CONNECTIONS', 8, 1);
  // A fresh server needs ~5 s of load to reach its steady rate (measured here: 100-event requests
  // ramp from ~50k to ~70k events/s over the first 6 s), so a short warm-up under-reports.
  const warmupMs = envNumber('BENCH_WARMUP_SECONDS', 5, 0) * 1000;
  const baselineRows = envNumber('BENCH_BASELINE_ROWS', 200_000, 1000);
  const profDir = process.env.BENCH_CPU_PROF;
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-bench-'));
  const scratch = mkdtempSync(join(tmpdir(), 'logsrv-bench-baseline-'));
  const nodeArgs = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  let server: LogsrvProcess | null = null;
  let client: ClientProcess | null = null;
  let base: SqliteBaseline | null = null;
  let accepted = 0;
  const out: CaseResult = { eventsPerRequest, runs: [], batches: [], baseline: [], baselineRowBytes: 0, notes: [] };
  try {
    server = await startLogsrv({ repoRoot: ctx.repoRoot, dataDir, args: ['--log-level', 'warn'], nodeArgs });
    const started = await ClientProcess.start(ctx.repoRoot, {
      url: server.url,
      eventsPerRequest,
      connections,
      ringBytes: 32 * 1024 * 1024,
      tag,
      seed: eventsPerRequest,
    });
    client = started.client;
    ctx.log(
      `  server ${server.url} (pid ${server.pid}), ${connections} connections, ${started.bodies} distinct body templates (${fmt(started.bytes / 1e6)} MB)`,
    );
    base = new SqliteBaseline(scratch, tag, tag, eventsPerRequest + 1);
    if (warmupMs > 0) {
      const m0 = await server.metrics();
      const warm = await client.run(warmupMs);
      check(warm, 'warm-up');
      accepted += warm.accepted;
      const m1 = await server.metrics();
      const batch = metricDelta(m0, m1, 'logsrv_writer_batch_events_sum') / metricDelta(m0, m1, 'logsrv_writer_batch_events_count');
      base.measure(20_000, Math.max(1, Math.round(batch)));
    }

    const threadMs = new Map<number, number>();
    const foreign: number[] = [];
    let commitSeconds = 0;
    let transactions = 0;
    const indexWaits: number[] = [];
    for (let rep = 1; rep <= ctx.reps; rep++) {
      const m0 = await server.metrics();
      const threads0 = threadCpuMs(server.pid);
      const host0 = hostBusyMs();
      const srv0 = processCpuMs(server.pid);
      const own0 = process.cpuUsage();
      const r = await client.run(ctx.seconds * 1000);
      const own = process.cpuUsage(own0);
      // CPU the rest of the machine used meanwhile: all busy time minus server, client and runner.
      const other = hostBusyMs() - host0 - (processCpuMs(server.pid) - srv0) - r.cpuMs - (own.user + own.system) / 1000;
      for (const [tid, ms] of threadCpuMs(server.pid)) threadMs.set(tid, (threadMs.get(tid) ?? 0) + ms - (threads0.get(tid) ?? 0));
      const m1 = await server.metrics();
      check(r, `repetition ${rep}`);
      accepted += r.accepted;
      out.runs.push(r);
      foreign.push(Math.max(0, other / 10 / r.seconds));
      const txns = metricDelta(m0, m1, 'logsrv_writer_batch_events_count');
      transactions += txns;
      commitSeconds += metricDelta(m0, m1, 'logsrv_writer_batch_seconds_sum');
      const batch = metricDelta(m0, m1, 'logsrv_writer_batch_events_sum') / txns;
      out.batches.push(batch);
      const rowsPerSec = base.measure(baselineRows, Math.max(1, Math.round(batch)));
      out.baseline.push(rowsPerSec);
      const eps = r.accepted / r.seconds;
      indexWaits.push(metricDelta(m0, m1, INDEX_WAIT_METRIC) / r.seconds);
      ctx.log(
        `  rep ${rep}: ${fmt(eps)} events/s, ${fmt(r.bytes / 1e6 / r.seconds)} MB/s, ${fmt(r.requests / r.seconds)} req/s, ` +
          `latency p50 ${fmt(r.latencyMsP50)} ms p99 ${fmt(r.latencyMsP99)} ms, client CPU ${(r.cpuMs / 10 / r.seconds).toFixed(0)}%, ` +
          `other processes ${foreign[foreign.length - 1]?.toFixed(0)}%, lag at its end: search index ${fmt(m1.get('logsrv_search_index_lag_rows') ?? 0)} rows, ` +
          `session chunks ${fmt(m1.get('logsrv_session_chunks_lag_rows') ?? 0)} rows, writer waiting for the index ${fmtPct(indexWaits[indexWaits.length - 1] as number)} of the time | baseline at ${fmt(batch)} rows/txn: ${fmt(rowsPerSec)} rows/s → ${fmtRatio(eps / rowsPerSec)}`,
      );
    }
    out.baselineRowBytes = base.sampleRowBytes();

    const seconds = out.runs.reduce((s, r) => s + r.seconds, 0);
    const clientCpu = out.runs.reduce((s, r) => s + r.cpuMs, 0) / 10 / seconds;
    const overloaded = out.runs.reduce((s, r) => s + r.overloaded, 0);
    const metricAccepted = (await server.metrics()).get('logsrv_accepted_total{transport="http"}') ?? 0;
    out.notes.push(
      `${cpuSplit(
        server.pid,
        threadMs,
        seconds,
        out.runs.reduce((s, r) => s + r.accepted, 0),
      )}; load client ${clientCpu.toFixed(0)}%; other processes on the machine ` +
        `${foreign.map((f) => `${f.toFixed(0)}%`).join(' / ')} (CPU % of one core; ${availableParallelism()} cores in all).`,
      `Group commit: ${fmt(transactions)} transactions, mean ${out.batches.map(fmt).join(' / ')} events each, ` +
        `mean ${fmt((commitSeconds / transactions) * 1000)} ms per append round trip; writer appends in flight ${((commitSeconds / seconds) * 100).toFixed(0)}% of the time.`,
      `The writer thread waited for the index to come within its lag bound ${indexWaits.map(fmtPct).join(' / ')} of each repetition (${INDEX_WAIT_METRIC}).`,
      `Paired ratios (each repetition ÷ the baseline run right after it): ${out.runs.map((r, i) => fmtRatio(r.accepted / r.seconds / (out.baseline[i] as number))).join(' / ')}.`,
      `Request latency (median of repetitions): p50 ${fmt(median(out.runs.map((r) => r.latencyMsP50)))} ms, p99 ${fmt(median(out.runs.map((r) => r.latencyMsP99)))} ms; ` +
        `${overloaded} requests answered 503 (queue full).`,
    );
    ctx.log(`  ${out.notes.join('\n  ')}`);
    await client.close();
    client = null;
    await server.stop();
    server = null;
    if (metricAccepted !== accepted) throw new Error(`the server counted ${metricAccepted} accepted events, the client ${accepted}`);
    const stored = summarizeStore(dataDir);
    if (stored.rows !== accepted) {
      throw new Error(`ROW COUNT MISMATCH: the server acknowledged ${accepted} events but ${stored.rows} rows are stored in ${stored.files.join(', ')}`);
    }
    if (stored.sampleDistinctValues !== stored.sampleRows) {
      throw new Error(`workload repeats itself: ${stored.sampleDistinctValues} distinct values in a sample of ${stored.sampleRows} rows`);
    }
    const check2 = `${fmt(stored.rows)} rows stored = events acknowledged; ${fmt(stored.sampleRowBytes)} text bytes per stored row, ${fmt(out.baselineRowBytes)} per baseline row`;
    ctx.log(`  verified after stop: ${check2}`);
    out.notes.push(`Verified after stop: ${check2}.`);
  } finally {
    base?.close();
    await client?.close().catch(() => {});
    await server?.stop().catch((err: Error) => ctx.log(`  (server stop after failure: ${err.message.split('\n')[0]})`));
    if (!process.env.BENCH_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
  return out;
}

/** Bare SQLite at a fixed transaction size, for reference beside the matched baseline. */
function fixedBaseline(ctx: BenchContext, txnRows: number, statement: 'writer' | 'row'): Measurement {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-bench-baseline-'));
  const base = new SqliteBaseline(dir, `txn${txnRows}`, 'fixd', txnRows, statement);
  try {
    const rows = envNumber('BENCH_BASELINE_ROWS', 200_000, 1000);
    base.measure(20_000, txnRows);
    const runs: number[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) runs.push(base.measure(rows, txnRows));
    const m = measurement(
      `SQLite insert, ${fmt(txnRows)} rows/txn${statement === 'row' ? ', a row per statement (figures before 2026-12-06)' : ''}`,
      'rows/s',
      runs,
    );
    ctx.log(`  ${m.label}: ${runs.map(fmt).join(', ')} rows/s → median ${fmt(m.median)}`);
    return m;
  } finally {
    base.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const ingestHttp: Benchmark = {
  name: 'ingest-http',
  description:
    'NDJSON POST /v1/events to the real server (answers after SQLite commit), 8 keep-alive connections from another process, ' +
    '~200-byte distinct events; baseline: bare better-sqlite3 inserting the same rows at the transaction size the server committed.',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const cases: CaseResult[] = [];
    for (const n of EVENTS_PER_REQUEST) {
      ctx.log(`ingest-http: ${n} events/request, ${ctx.reps} × ${ctx.seconds} s, each followed by bare SQLite at the same transaction size`);
      // Tags are 4 characters, like the fixed baselines', so rows have the same size everywhere.
      cases.push(await runCase(ctx, n, `r${String(n).padStart(3, '0').slice(-3)}`));
    }
    const figures: Figure[] = [];
    const notes: string[] = [];
    for (const c of cases) {
      const label = `${c.eventsPerRequest} events/request`;
      const eps = measurement(
        'server events/s',
        'events/s',
        c.runs.map((r) => r.accepted / r.seconds),
      );
      const matched = measurement(`SQLite insert at the server's batch size (${fmt(median(c.batches))} rows/txn)`, 'rows/s', c.baseline);
      const ratio = eps.median / matched.median;
      const big = c.eventsPerRequest === 1000;
      figures.push({
        ...eps,
        case: label,
        baseline: matched,
        ratio,
        targets: [
          { text: `≥${TARGET_RATIO}× baseline`, met: ratio >= TARGET_RATIO },
          ...(big ? [{ text: `≥${fmt(TARGET_EVENTS_PER_SEC_1000)} events/s`, met: eps.median >= TARGET_EVENTS_PER_SEC_1000 }] : []),
        ],
      });
      figures.push({
        ...measurement(
          'server MB/s (request bodies)',
          'MB/s',
          c.runs.map((r) => r.bytes / 1e6 / r.seconds),
        ),
        case: label,
      });
      notes.push(...c.notes.map((n) => `${label}: ${n}`));
    }
    ctx.log('ingest-http: bare SQLite at fixed transaction sizes');
    // The writer's own statement at two sizes, and one row per statement: what the writer did and
    // every baseline was before 2026-12-06, so that figures of both kinds can be compared.
    for (const [txn, statement] of [
      [1000, 'writer'],
      [10_000, 'writer'],
      [1000, 'row'],
    ] as const) {
      const b = fixedBaseline(ctx, txn, statement);
      figures.push({ ...b, case: 'SQLite baseline' });
      for (const c of cases) {
        const eps = median(c.runs.map((r) => r.accepted / r.seconds));
        notes.push(`${c.eventsPerRequest} events/request is ${fmtRatio(eps / b.median)} the ${b.label} baseline.`);
      }
    }
    return {
      figures,
      notes,
      params: {
        eventsPerRequest: EVENTS_PER_REQUEST,
        connections: envNumber('BENCH_CONNECTIONS', 8, 1),
        secondsPerRep: ctx.seconds,
        warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 5, 0),
        baselineRowsPerRep: envNumber('BENCH_BASELINE_ROWS', 200_000, 1000),
        eventBytes: '170-230 (mean ~200), every line distinct',
        sessions: 'runs of 100 lines per session, 400 live sessions × 1000 events, 1 in 5 events with an object value',
        server: 'node bin/logsrv serve, default options, --log-level warn',
      },
    };
  },
};
