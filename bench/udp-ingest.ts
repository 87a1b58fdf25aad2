/**
 * `udp-ingest` and `syslog-ingest`: UDP datagrams of ~200-byte distinct events (one per datagram) offered at 25k, 50k,
 * 100k and 200k datagrams/s by sender processes separate from the server, into the real `logsrv
 * serve` (stored = its `logsrv_accepted_total{transport="udp"}`, drops by reason from /metrics,
 * checked against the rows in SQLite after stop) and, in the same run, into a private rsyslogd
 * (imudp → omfile; stored = lines in its file). Loss = (sent − stored) / sent, where sent is what
 * the senders' OS accepted. The ratio is our stored rate ÷ rsyslog's. `syslog-ingest` is the same
 * run with syslog datagrams (RFC 5424 and RFC 3164) sent to `--syslog-udp`: rsyslog gets the very
 * datagrams it would get from its own senders.
 *
 * Each repetition runs logsrv, then rsyslog, at the same rate, so both see the same background
 * load on this shared machine. A fresh logsrv (and rsyslogd) per rate.
 *
 * Knobs (env): BENCH_SECONDS (per repetition; this benchmark defaults to 10 when unset),
 * BENCH_REPS (≥ 3), BENCH_UDP_RATES (comma-separated datagrams/s, default 25000,50000,100000,200000),
 * BENCH_UDP_SENDERS (sender processes, default 2), BENCH_UDP_SENDER_NICE (their nice value, default 0; a positive value
 * lets the receiver under test get the CPU first, as with senders on other machines, but also puts
 * the senders behind every other process of a shared machine), BENCH_WARMUP_SECONDS (per rate and system, 2),
 * BENCH_UDP_RECV_BUFFER_BYTES (both receivers' SO_RCVBUF, default 4 MiB = logsrv's default),
 * BENCH_UDP_SEARCH_INDEX (`on` by default; `off` runs the server with `--search-index off`, so the
 * writer thread does about half the work per event and the receive side's share shows),
 * BENCH_UDP_READER (`auto` by default: the native recvmmsg reader where built; `dgram` runs the server
 * with `--udp-reader dgram`, node:dgram's one datagram per callback, for a before/after),
 * BENCH_CPU_PROF=DIR (run the server with --cpu-prof, a profile per thread written to DIR).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { envChoice, envNumber, envNumbers } from './lib/env.ts';
import { hostBusyMs, processCpuMs } from './lib/host-load.ts';
import { cpuByRole, describeRoles, INDEX_WAIT_METRIC, type LogsrvProcess, metricDelta, startLogsrv, threadCpuMs } from './lib/logsrv-process.ts';
import { ensureRsyslogd, type RsyslogInstance, startRsyslog, udpSocketDrops } from './lib/rsyslog.ts';
import { fmt, fmtPct, fmtRatio, measurement, median } from './lib/stats.ts';
import { summarizeStore } from './lib/stored-rows.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';
import { type OfferedLoad, UdpSenders } from './lib/udp-senders.ts';

const TARGET_STORED_PER_SEC = 150_000;
const TARGET_LOSS = 0.001;
/** Issue 14's goal for UDP: at 100k datagrams/s offered, ≤ 0.1 % loss and ≥ 0.9× rsyslog's stored rate. */
const TARGET_RATIO = 0.9;
const HOST = '127.0.0.1';

/** `serve` arguments of the BENCH_UDP_SEARCH_INDEX and BENCH_UDP_READER knobs. */
function serverKnobArgs(): string[] {
  const v = envChoice('BENCH_UDP_SEARCH_INDEX', ['on', 'off']);
  const r = envChoice('BENCH_UDP_READER', ['auto', 'dgram']);
  return [...(v === 'off' ? ['--search-index', 'off'] : []), ...(r === 'dgram' ? ['--udp-reader', 'dgram'] : [])];
}

/** Datagrams/s offered (BENCH_UDP_RATES), each ≥ 100. */
const rates = () => envNumbers('BENCH_UDP_RATES', [25_000, 50_000, 100_000, 200_000], 100);

/** One system's repetition at one rate. */
interface Sample {
  offered: OfferedLoad;
  stored: number;
  /** Drops the receiver counted (logsrv: by reason from /metrics; rsyslog: kernel socket drops). */
  dropped: Record<string, number>;
  /** Datagrams the receiver itself read: stored + its own drops (not the kernel's). */
  handled: number;
  /** sent − stored − counted drops, after waiting for the receiver to settle. */
  unaccounted: number;
  /** Receiver CPU during the offered window, % of one core: its busiest thread, and the whole process. */
  mainCpuPct: number;
  processCpuPct: number;
  /** Busy CPU of everything else on the machine meanwhile, % of one core. */
  foreignPct: number;
  /** logsrv only: CPU ms of each of its threads by name (main, udp, writer, index, ...) over the repetition. */
  roleMs?: Map<string, number>;
  /** logsrv only: seconds its writer waited for the index (logsrv_search_index_wait_seconds_total), offer and settling, ÷ the offered window. */
  indexWaitShare?: number;
}

const storedRate = (s: Sample) => s.stored / s.offered.seconds;
const loss = (s: Sample) => (s.offered.sent === 0 ? 0 : (s.offered.sent - s.stored) / s.offered.sent);
/** CPU µs per datagram the receiver read: of its busiest thread, and of the whole process. */
const usPerDatagram = (s: Sample, cpuPct: number) => (s.handled === 0 ? Number.NaN : (cpuPct * 10 * s.offered.seconds * 1000) / s.handled);

/**
 * Polls `poll()` until its `accounted` (events stored or counted as dropped since the start)
 * reaches `sent`, or stops changing for 3 s (what is still missing is then unaccounted), within
 * 60 s. While its `queued` (events waiting for the writer) is above 0, an unchanged count is a
 * writer that has not committed for a while (waiting for the index thread, on a slow VM for more
 * than 3 s), not the end, and the poll goes on.
 */
async function settle(sent: number, poll: () => Promise<{ accounted: number; queued: number }> | { accounted: number; queued: number }): Promise<void> {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { accounted: now, queued } = await poll();
    if (now >= sent || Date.now() > deadline) return;
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 3000 && queued === 0) return;
    await sleep(200);
  }
}

/** What differs between `udp-ingest` (NDJSON datagrams on `--udp`) and `syslog-ingest` (syslog datagrams on `--syslog-udp`). */
interface Variant {
  name: string;
  description: string;
  /** The `transport` label of the receiver's counters. */
  transport: 'udp' | 'syslog';
  format: 'json' | 'syslog';
  /** `serve` arguments that turn the receiver on at a free port. */
  serverArgs: string[];
  /** Finds the bound port in `serve`'s start line. */
  portPattern: RegExp;
  what: string;
}

function udpCounters(m: Map<string, number>, transport: string): { accepted: number; dropped: Record<string, number> } {
  const dropped: Record<string, number> = {};
  const prefix = `logsrv_dropped_total{transport="${transport}",reason="`;
  for (const [k, v] of m) {
    if (k.startsWith(prefix)) dropped[k.slice(prefix.length, -2)] = v;
  }
  return { accepted: m.get(`logsrv_accepted_total{transport="${transport}"}`) ?? 0, dropped };
}

function sum(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** Offers the load to logsrv and measures what it stored and counted. */
async function runLogsrv(v: Variant, server: LogsrvProcess, port: number, senders: UdpSenders, rate: number, ms: number): Promise<Sample> {
  const m0 = await server.metrics();
  const c0 = udpCounters(m0, v.transport);
  const threads0 = threadCpuMs(server.pid);
  const proc0 = processCpuMs(server.pid);
  const host0 = hostBusyMs();
  const offered = await senders.offer(HOST, port, rate, ms);
  const host = hostBusyMs() - host0;
  const threads1 = threadCpuMs(server.pid);
  const proc = processCpuMs(server.pid) - proc0;
  let m1 = m0;
  await settle(offered.sent, async () => {
    m1 = await server.metrics();
    const c = udpCounters(m1, v.transport);
    return { accounted: c.accepted - c0.accepted + sum(diff(c0.dropped, c.dropped)), queued: m1.get('logsrv_queue_depth') ?? 0 };
  });
  const c1 = udpCounters(m1, v.transport);
  const stored = c1.accepted - c0.accepted;
  const dropped = diff(c0.dropped, c1.dropped);
  // logsrv reads the socket on a thread of its own (the busiest one here), like rsyslog's imudp.
  const main = busiestThreadMs(threads0, threads1);
  return {
    roleMs: cpuByRole(server.pid, threads0, threads1),
    indexWaitShare: metricDelta(m0, m1, INDEX_WAIT_METRIC) / offered.seconds,
    offered,
    stored,
    dropped,
    handled: stored + sum(dropped) - (dropped.socket_overflow ?? 0),
    unaccounted: offered.sent - stored - sum(dropped),
    mainCpuPct: main / 10 / offered.seconds,
    processCpuPct: proc / 10 / offered.seconds,
    foreignPct: Math.max(0, (host - proc) / 10 / offered.seconds - offered.cpuPct),
  };
}

/** CPU ms of the thread that used the most between two readings of {@link threadCpuMs}. */
function busiestThreadMs(before: Map<number, number>, after: Map<number, number>): number {
  let busiest = 0;
  for (const [tid, ms1] of after) busiest = Math.max(busiest, ms1 - (before.get(tid) ?? 0));
  return busiest;
}

async function runRsyslog(rs: RsyslogInstance, senders: UdpSenders, rate: number, ms: number): Promise<Sample> {
  const lines0 = rs.lines();
  const drops0 = udpSocketDrops(rs.port) ?? 0;
  const threads0 = threadCpuMs(rs.pid);
  const proc0 = processCpuMs(rs.pid);
  const host0 = hostBusyMs();
  const offered = await senders.offer(HOST, rs.port, rate, ms);
  const host = hostBusyMs() - host0;
  const threads1 = threadCpuMs(rs.pid);
  const proc = processCpuMs(rs.pid) - proc0;
  await settle(offered.sent, () => ({ accounted: rs.lines() - lines0 + (udpSocketDrops(rs.port) ?? 0) - drops0, queued: 0 }));
  const stored = rs.lines() - lines0;
  const drops = (udpSocketDrops(rs.port) ?? 0) - drops0;
  // rsyslog's busiest thread (the imudp reader) is its counterpart of our UDP receive thread.
  const busiest = busiestThreadMs(threads0, threads1);
  return {
    offered,
    stored,
    dropped: drops > 0 ? { socket_overflow: drops } : {},
    handled: stored,
    unaccounted: offered.sent - stored - drops,
    mainCpuPct: busiest / 10 / offered.seconds,
    processCpuPct: proc / 10 / offered.seconds,
    foreignPct: Math.max(0, (host - proc) / 10 / offered.seconds - offered.cpuPct),
  };
}

/** Median CPU µs per stored event of each named thread over the samples, busiest first. */
function roleMedians(samples: Sample[]): string {
  const roles = new Set(samples.flatMap((s) => [...(s.roleMs?.keys() ?? [])]));
  const us = (s: Sample, role: string) => (s.stored === 0 ? Number.NaN : ((s.roleMs?.get(role) ?? 0) * 1000) / s.stored);
  return describeRoles(
    [...roles].map((role) => [role, median(samples.map((s) => us(s, role)))]),
    (x) => x.toFixed(2),
  );
}

function autogroupScheduling(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

function describeSample(s: Sample): string {
  const drops = Object.entries(s.dropped)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ');
  return (
    `offered ${fmt(s.offered.rate)}/s (${fmt(s.offered.sent)} sent${s.offered.errors ? `, ${fmt(s.offered.errors)} send errors: ${s.offered.firstError}` : ''}) → ` +
    `stored ${fmt(storedRate(s))}/s, loss ${fmtPct(loss(s))}${drops ? ` [${drops}]` : ''}${s.unaccounted ? `, unaccounted ${fmt(s.unaccounted)}` : ''}; ` +
    `receiver busiest thread ${s.mainCpuPct.toFixed(0)}%, process ${s.processCpuPct.toFixed(0)}%, senders ${s.offered.cpuPct.toFixed(0)}%, other ${s.foreignPct.toFixed(0)}%` +
    (s.roleMs ? `; threads ${describeRoles(s.roleMs, (ms) => `${(ms / 10 / s.offered.seconds).toFixed(0)}%`)}` : '') +
    (s.indexWaitShare === undefined ? '' : `; writer waiting for the index ${fmtPct(s.indexWaitShare)}`)
  );
}

interface RateResult {
  rate: number;
  ours: Sample[];
  theirs: Sample[];
  notes: string[];
}

async function runRate(v: Variant, ctx: BenchContext, senders: UdpSenders, rsyslogd: string | null, rate: number, seconds: number): Promise<RateResult> {
  const warmupMs = envNumber('BENCH_WARMUP_SECONDS', 2, 0) * 1000;
  const recvBuffer = envNumber('BENCH_UDP_RECV_BUFFER_BYTES', 4 * 1024 * 1024, 4096);
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-bench-udp-'));
  const rsDir = mkdtempSync(join(tmpdir(), 'logsrv-bench-rsyslog-'));
  let server: LogsrvProcess | null = null;
  let rs: RsyslogInstance | null = null;
  const out: RateResult = { rate, ours: [], theirs: [], notes: [] };
  try {
    server = await startLogsrv({
      repoRoot: ctx.repoRoot,
      dataDir,
      args: ['--log-level', 'warn', '--udp-recv-buffer-bytes', String(recvBuffer), ...serverKnobArgs(), ...v.serverArgs],
      nodeArgs: process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [],
    });
    const srv = server;
    let port = 0;
    for (let i = 0; i < 100 && !port; i++) {
      port = Number(v.portPattern.exec(srv.output())?.[1] ?? 0);
      if (!port) await sleep(50);
    }
    if (!port) throw new Error(`could not read the UDP port from logsrv serve's output:\n${srv.output()}`);
    if (rsyslogd) rs = await startRsyslog(rsyslogd, rsDir, recvBuffer);
    ctx.log(`  ${fmt(rate)} datagrams/s: logsrv pid ${srv.pid} UDP ${HOST}:${port}${rs ? `, rsyslogd pid ${rs.pid} UDP ${HOST}:${rs.port}` : ''}`);

    let acceptedTotal = 0;
    if (warmupMs > 0) {
      const w = await runLogsrv(v, srv, port, senders, rate, warmupMs);
      acceptedTotal += w.stored;
      if (rs) await runRsyslog(rs, senders, rate, warmupMs);
    }
    for (let rep = 1; rep <= ctx.reps; rep++) {
      const ours = await runLogsrv(v, srv, port, senders, rate, seconds * 1000);
      acceptedTotal += ours.stored;
      out.ours.push(ours);
      ctx.log(`    rep ${rep} logsrv:  ${describeSample(ours)}`);
      if (rs) {
        const theirs = await runRsyslog(rs, senders, rate, seconds * 1000);
        out.theirs.push(theirs);
        ctx.log(`    rep ${rep} rsyslog: ${describeSample(theirs)}`);
      }
    }
    const metricAccepted = udpCounters(await srv.metrics(), v.transport).accepted;
    await srv.stop();
    server = null;
    const stored = summarizeStore(dataDir);
    if (stored.rows !== metricAccepted) {
      throw new Error(`ROW COUNT MISMATCH: ${stored.rows} rows stored in ${stored.files.join(', ')}, but /metrics says ${metricAccepted} accepted`);
    }
    if (metricAccepted !== acceptedTotal) {
      // A receiver starved of CPU can still be reading its socket buffer after a repetition settled.
      out.notes.push(`${fmt(metricAccepted - acceptedTotal)} events were accepted after their repetition had settled (counted there as unaccounted)`);
    }
    if (stored.sampleDistinctValues !== stored.sampleRows) {
      throw new Error(`workload repeats itself: ${stored.sampleDistinctValues} distinct values in a sample of ${stored.sampleRows} rows`);
    }
    out.notes.push(
      `verified after stop: ${fmt(stored.rows)} rows in SQLite = accepted in /metrics; ${fmt(stored.sampleRowBytes)} text bytes per row, all distinct`,
    );
  } finally {
    await rs?.stop().catch(() => {});
    await server?.stop().catch((err: Error) => ctx.log(`  (server stop after failure: ${err.message.split('\n')[0]})`));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(rsDir, { recursive: true, force: true });
  }
  return out;
}

function dropsSummary(samples: Sample[]): string {
  const total: Record<string, number> = {};
  for (const s of samples) for (const [k, v] of Object.entries(s.dropped)) total[k] = (total[k] ?? 0) + v;
  const entries = Object.entries(total);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${fmt(v)}`).join(', ');
}

function udpBenchmark(v: Variant): Benchmark {
  return {
    name: v.name,
    description: v.description,
    async run(ctx: BenchContext): Promise<BenchReport> {
      const seconds = process.env.BENCH_SECONDS ? ctx.seconds : 10;
      const senderCount = Math.round(envNumber('BENCH_UDP_SENDERS', 2, 1));
      const nice = Math.min(19, Math.round(envNumber('BENCH_UDP_SENDER_NICE', 0, 0)));
      const rs = ensureRsyslogd(ctx.log);
      const rsyslogd = 'path' in rs ? rs.path : null;
      const notes: string[] = [];
      if (!rsyslogd) {
        notes.push(`rsyslog baseline missing: ${(rs as { missing: string }).missing}`);
        ctx.log(`  ${notes[0]}`);
      }
      ctx.log(`${v.name}: ${senderCount} sender processes at nice ${nice}, ${ctx.reps} × ${seconds} s per rate and system, ${availableParallelism()} cores`);
      notes.push(
        `Each repetition lasts ${seconds} s${process.env.BENCH_SECONDS ? ' (BENCH_SECONDS)' : " (this benchmark's default; the runner's header shows its own default)"}; ` +
          `${senderCount} sender processes at nice ${nice} share the machine's ${availableParallelism()} cores with the receiver.`,
      );
      if (autogroupScheduling()) {
        notes.push(
          "Linux autogroup scheduling is on: CPU is shared fairly between sessions, so the receivers' session (the runner's) competes with every other busy " +
            "session on the machine ('other' below) and each sender runs in a session of its own; a receiver needing more CPU per datagram falls behind first.",
        );
      }
      const senders = await UdpSenders.start(ctx.repoRoot, senderCount, v.format === 'syslog' ? 'sys1' : 'udp1', nice, v.format);
      const results: RateResult[] = [];
      try {
        for (const rate of rates()) results.push(await runRate(v, ctx, senders, rsyslogd, rate, seconds));
      } finally {
        await senders.close();
      }

      const figures: Figure[] = [];
      for (const r of results) {
        const label = `${fmt(r.rate)} datagrams/s offered`;
        const ours = measurement('logsrv stored events/s', 'events/s', r.ours.map(storedRate));
        const oursLoss = measurement(
          'logsrv loss',
          '%',
          r.ours.map((s) => loss(s) * 100),
        );
        const base =
          r.theirs.length > 0
            ? measurement(`rsyslog ${'version' in rs ? rs.version : ''} imudp → omfile, lines/s`, 'lines/s', r.theirs.map(storedRate))
            : undefined;
        const ratio = base ? ours.median / base.median : undefined;
        figures.push({
          ...ours,
          case: label,
          ...(base ? { baseline: base, ratio } : {}),
          targets: [
            ...(r.rate >= 200_000 ? [{ text: `≥${fmt(TARGET_STORED_PER_SEC)} events/s stored`, met: ours.median >= TARGET_STORED_PER_SEC }] : []),
            ...(ratio !== undefined ? [{ text: `≥${TARGET_RATIO}× rsyslog`, met: ratio >= TARGET_RATIO }] : []),
          ],
        });
        figures.push({
          ...oursLoss,
          case: label,
          ...(r.theirs.length > 0
            ? {
                baseline: measurement(
                  'rsyslog loss',
                  '%',
                  r.theirs.map((s) => loss(s) * 100),
                ),
              }
            : {}),
          targets: [{ text: `≤${TARGET_LOSS * 100}% loss`, met: oursLoss.median <= TARGET_LOSS * 100 }],
        });
        figures.push({
          ...measurement(
            'offered (achieved) to logsrv',
            'datagrams/s',
            r.ours.map((s) => s.offered.rate),
          ),
          case: label,
          ...(r.theirs.length > 0
            ? {
                baseline: measurement(
                  'offered (achieved) to rsyslog',
                  'datagrams/s',
                  r.theirs.map((s) => s.offered.rate),
                ),
              }
            : {}),
        });
        figures.push({
          ...measurement(
            'logsrv busiest thread CPU',
            '% of a core',
            r.ours.map((s) => s.mainCpuPct),
          ),
          case: label,
          ...(r.theirs.length > 0
            ? {
                baseline: measurement(
                  'rsyslog busiest thread CPU',
                  '% of a core',
                  r.theirs.map((s) => s.mainCpuPct),
                ),
              }
            : {}),
        });
        notes.push(
          `${label}: logsrv drops by reason over ${r.ours.length} repetitions: ${dropsSummary(r.ours)}; unaccounted ${fmt(r.ours.reduce((a, s) => a + s.unaccounted, 0))}. ` +
            `rsyslog kernel socket drops: ${dropsSummary(r.theirs)}, unaccounted ${fmt(r.theirs.reduce((a, s) => a + s.unaccounted, 0))}.`,
          `${label}: CPU (% of one core, medians) — logsrv busiest thread ${fmt(median(r.ours.map((s) => s.mainCpuPct)))}, process ${fmt(median(r.ours.map((s) => s.processCpuPct)))}; ` +
            (r.theirs.length > 0
              ? `rsyslog busiest thread ${fmt(median(r.theirs.map((s) => s.mainCpuPct)))}, process ${fmt(median(r.theirs.map((s) => s.processCpuPct)))}; `
              : '') +
            `senders ${fmt(median(r.ours.map((s) => s.offered.cpuPct)))}; other processes ${r.ours.map((s) => s.foreignPct.toFixed(0)).join(' / ')} (${availableParallelism()} cores in all).`,
          `${label}: CPU per datagram read (medians) — logsrv busiest thread ${fmt(median(r.ours.map((s) => usPerDatagram(s, s.mainCpuPct))))} µs ` +
            `(a whole core would read ≤ ${fmt(1e6 / median(r.ours.map((s) => usPerDatagram(s, s.mainCpuPct))))}/s), process ${fmt(median(r.ours.map((s) => usPerDatagram(s, s.processCpuPct))))} µs` +
            (r.theirs.length > 0
              ? `; rsyslog busiest thread ${fmt(median(r.theirs.map((s) => usPerDatagram(s, s.mainCpuPct))))} µs, process ${fmt(median(r.theirs.map((s) => usPerDatagram(s, s.processCpuPct))))} µs.`
              : '.'),
          `${label}: logsrv CPU per stored event by thread (µs, medians): ${roleMedians(r.ours)}.`,
          ...r.notes.map((n) => `${label}: ${n}`),
        );
        if (ratio !== undefined)
          notes.push(
            `${label}: stored-rate ratio logsrv/rsyslog per repetition ${r.ours.map((s, i) => fmtRatio(storedRate(s) / storedRate(r.theirs[i] as Sample))).join(' / ')}.`,
          );
      }
      return {
        figures,
        notes,
        params: {
          rates: rates(),
          secondsPerRep: seconds,
          warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', 2, 0),
          senderProcesses: senderCount,
          senderNice: nice,
          recvBufferBytes: envNumber('BENCH_UDP_RECV_BUFFER_BYTES', 4 * 1024 * 1024, 4096),
          eventBytes: `170-230 (mean ~200), one ${v.what} per datagram, every one distinct`,
          server: `node bin/logsrv serve, default options, --log-level warn ${[...serverKnobArgs(), ...v.serverArgs].join(' ')}, fresh per rate`,
          baseline: 'rsyslogd -n -f CONF: imudp (1 thread, 127.0.0.1 only) → omfile %rawmsg%, async writing; fresh per rate',
        },
      };
    },
  };
}

export const udpIngest = udpBenchmark({
  name: 'udp-ingest',
  description:
    'UDP datagrams of ~200-byte distinct events offered at 25k-200k/s by separate sender processes to the real server (stored per /metrics, ' +
    'checked against SQLite; drops by reason); baseline: a private rsyslogd (imudp → omfile) at the same rate in the same run.',
  transport: 'udp',
  format: 'json',
  serverArgs: [],
  portPattern: /, UDP 127\.0\.0\.1:(\d+)/,
  what: 'NDJSON event',
});

export const syslogIngest = udpBenchmark({
  name: 'syslog-ingest',
  description:
    'Syslog over UDP (RFC 5424 and RFC 3164 datagrams of ~200 bytes, all distinct) offered at 25k-200k/s by separate sender processes to the real ' +
    'server on --syslog-udp (stored per /metrics, checked against SQLite; drops by reason); baseline: a private rsyslogd (imudp → omfile) receiving the same datagrams in the same run.',
  transport: 'syslog',
  format: 'syslog',
  serverArgs: ['--udp', 'off', '--syslog-udp', '127.0.0.1:0'],
  portPattern: /syslog UDP 127\.0\.0\.1:(\d+)/,
  what: 'syslog message',
});
