/**
 * `npm run bench [name ...]` — runs every benchmark, or the named ones, one after another (never in
 * parallel: they would measure each other). Each prints its figures beside a baseline measured in
 * the same run and the ratio; the runner stores `bench/results/<name>.json` and regenerates
 * `bench/RESULTS.md` from all result files. Exits non-zero if a benchmark fails (for example when
 * the rows stored differ from the events acknowledged).
 *
 * Several benchmarks run each in a process of its own (this file again, with one name), so that
 * none inherits another's heap, sockets or child processes: in one process, the `query` session
 * read measured right after `udp-ingest` gave p99 24.8–27.4 ms with no page read from disk, and
 * 6.41–12.6 ms in a fresh process right after the same udp-ingest (2026-12-06).
 *
 * Env: BENCH_SECONDS (one timed repetition, default 5), BENCH_REPS (repetitions, ≥ 3, default 3);
 * each benchmark documents its own knobs.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentOverhead } from './agent-overhead.ts';
import { ingestHttp } from './ingest-http.ts';
import { commit, machine, readResults, renderResultsDoc, repetitionLength, writeResult } from './lib/results.ts';
import { fmt, fmtRatio } from './lib/stats.ts';
import type { BenchContext, Benchmark, ResultFile } from './lib/types.ts';
import { liveE2e } from './live-e2e.ts';
import { micro } from './micro.ts';
import { pgAppend } from './pg-append.ts';
import { query } from './query.ts';
import { reports } from './reports.ts';
import { scaleOut } from './scale-out.ts';
import { tailFanout } from './tail-fanout.ts';
import { tailLatency } from './tail-latency.ts';
import { syslogIngest, udpIngest } from './udp-ingest.ts';
import { udpReceive } from './udp-receive.ts';
import { uiBigSession } from './ui-big-session.ts';

const BENCHMARKS: Benchmark[] = [
  ingestHttp,
  liveE2e,
  agentOverhead,
  tailLatency,
  tailFanout,
  udpIngest,
  syslogIngest,
  udpReceive,
  query,
  uiBigSession,
  scaleOut,
  pgAppend,
  reports,
  micro,
];

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = dirname(benchDir);
const resultsDir = join(benchDir, 'results');

function usage(): string {
  return `usage: npm run bench [name ...]\nbenchmarks:\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(14)} ${b.description}`).join('\n')}\n`;
}

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: must be a positive number`);
  return n;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  const unknown = args.filter((a) => !BENCHMARKS.some((b) => b.name === a));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark: ${unknown.join(', ')}\n${usage()}`);
    return 2;
  }
  const selected = args.length > 0 ? BENCHMARKS.filter((b) => args.includes(b.name)) : BENCHMARKS;
  const seconds = positiveNumber('BENCH_SECONDS', 5);
  // The machine is shared and noisy: a median needs at least three samples.
  const reps = Math.max(3, Math.round(positiveNumber('BENCH_REPS', 3)));
  const ctx: BenchContext = { seconds, reps, repoRoot, log: (m) => process.stdout.write(`${m}\n`) };
  let failed = 0;

  if (selected.length > 1) {
    for (const b of selected) {
      const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), b.name], {
        stdio: 'inherit',
        env: { ...process.env, BENCH_ONE_OF_SEVERAL: '1' },
      });
      if (child.status !== 0) failed++;
    }
    writeResultsDoc();
    return failed > 0 ? 1 : 0;
  }

  for (const b of selected) {
    const started = new Date();
    const loadAtStart = loadavg();
    let result: ResultFile;
    try {
      const report = await b.run(ctx);
      result = {
        name: b.name,
        description: b.description,
        date: started.toISOString(),
        node: process.version,
        machine: machine(),
        commit: commit(repoRoot),
        // A benchmark whose repetitions do not last BENCH_SECONDS says so (params.secondsPerRep:
        // its own length, null when a repetition runs its workload to the end, or a text by case).
        seconds: report.params.secondsPerRep === undefined ? seconds : (report.params.secondsPerRep as number | null | string),
        reps,
        loadAverage: loadAtStart.map((l) => Math.round(l * 100) / 100),
        ...report,
      };
    } catch (err) {
      failed++;
      process.stderr.write(`\n${b.name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      continue;
    }
    const length = result.seconds === null ? '' : repetitionLength(result.seconds);
    process.stdout.write(`\n${b.name} — medians of ${reps}${length} (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s total)\n`);
    for (const f of result.figures) {
      const base = f.baseline ? `   baseline ${fmt(f.baseline.median)} ${f.baseline.unit} (${f.baseline.label})   ratio ${fmtRatio(f.ratio)}` : '';
      const target = (f.targets ?? []).map((t) => `   target ${t.text}: ${t.met ? 'met' : 'NOT MET'}`).join('');
      process.stdout.write(`  ${f.case.padEnd(20)} ${f.label.padEnd(30)} ${`${fmt(f.median)} ${f.unit}`.padStart(18)}${base}${target}\n`);
    }
    process.stdout.write(`  → ${writeResult(resultsDir, result)}\n`);
  }

  // One of several run by a parent process: the parent writes RESULTS.md once, at the end.
  if (process.env.BENCH_ONE_OF_SEVERAL !== '1') writeResultsDoc();
  return failed > 0 ? 1 : 0;
}

/** Regenerates bench/RESULTS.md from every result file. */
function writeResultsDoc(): void {
  const doc = join(benchDir, 'RESULTS.md');
  writeFileSync(doc, renderResultsDoc(readResults(resultsDir)));
  // Formatted as the lint expects (aligned table columns), so a regenerated file can be committed as is.
  const fmtRun = spawnSync(process.execPath, [join(repoRoot, 'node_modules/@biomejs/biome/bin/biome'), 'format', '--write', doc], { stdio: 'ignore' });
  if (fmtRun.status !== 0) process.stdout.write(`  (could not format ${doc}: run npm run format)\n`);
  process.stdout.write(`  → ${doc}\n`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
