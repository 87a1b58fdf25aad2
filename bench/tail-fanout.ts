/**
 * `tail-fanout`: 10,000 SSE clients follow one session that gets 100 events/s.
 *
 * Per repetition, on one server:
 *  1. bulk ingest (the `ingest-http` load client, 1000 events/request, 4 connections) into other
 *     sessions with the 100 events/s ticker running and no tail open → the baseline rate;
 *  2. 10,000 clients (two child processes, bench/workers/sse-clients.mjs) attach to the ticker's
 *     session; the ticker alone for BENCH_SECONDS → delivery latency (ticker send → receipt,
 *     monotonic clock shared by the processes) over a sample of 1 in 20 clients;
 *  3. the same bulk ingest with the clients attached → the rate with fan-out, as a ratio to 1.;
 *  4. session.end: every client must have got every ticker event and `end`;
 *  5. the baseline for delivery: the same clients and ticker against a bare Node.js fan-out
 *     (bench/workers/bare-fanout.mjs: each posted line forwarded to every socket in back-to-back
 *     passes, no store, no pacing) for BENCH_SECONDS — what this machine allows at all.
 * Server RSS is sampled from /proc during 2 and 3. Targets (issue 3): delivery p99 ≤ 250 ms,
 * ingest ratio ≥ 0.8.
 *
 * CPU of the server (and its main thread), of the client processes and of the rest of the host is
 * logged for phases 2 and 3.
 *
 * Knobs (env): BENCH_SECONDS, BENCH_REPS, BENCH_FANOUT_CLIENTS (default 10000), BENCH_CPU_PROF=DIR
 * (run the server with --cpu-prof, profiles written to DIR).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientProcess } from './lib/client-process.ts';
import { hostBusyMs, processCpuMs } from './lib/host-load.ts';
import { type LogsrvProcess, startLogsrv, threadCpuMs } from './lib/logsrv-process.ts';
import { fmt, measurement, quantile } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';

const TICK_MS = 10; // 100 events/s
const CLIENT_PROCESSES = 2;
const SAMPLE_EVERY = 20;

interface WorkerResult {
  type: 'result';
  clients: number;
  ended: number;
  errors: number;
  minEvents: number;
  maxEvents: number;
  /** By phase: `q` ticker only, `l` with the bulk ingest. */
  latencies: Record<string, number[]>;
}

const HIST = 'logsrv_tail_commit_to_send_seconds';

/** The server's commit → written-to-every-socket histogram: cumulative count by bucket bound. */
function commitToSend(samples: Map<string, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [k, v] of samples) {
    const m = new RegExp(`^${HIST}_bucket\\{le="([^"]+)"\\}$`).exec(k);
    if (m) out.set(m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), v);
  }
  return out;
}

/** Upper bound of the bucket holding quantile q of the observations between two scrapes. */
function histogramQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  for (const b of bounds) if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return b;
  return Number.NaN;
}

interface CpuReading {
  at: number;
  server: number;
  /** The server's main thread: HTTP, the hub, every socket write. */
  main: number;
  clients: number;
  host: number;
}

/** CPU time so far (ms): the server, the client processes together, and the whole host. */
function cpuNow(serverPid: number, procs: ChildProcess[]): CpuReading {
  let clients = 0;
  for (const p of procs) if (p.pid !== undefined) clients += processCpuMs(p.pid);
  return { at: performance.now(), server: processCpuMs(serverPid), main: threadCpuMs(serverPid).get(serverPid) ?? 0, clients, host: hostBusyMs() };
}

/** CPU used between two readings, in % of one core: server, clients, and everything else. */
function cpuShare(a: CpuReading, b: CpuReading): { server: number; main: number; clients: number; other: number } {
  const wall = (b.at - a.at) / 100;
  const server = (b.server - a.server) / wall;
  const clients = (b.clients - a.clients) / wall;
  return { server, main: (b.main - a.main) / wall, clients, other: (b.host - a.host) / wall - server - clients };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * Sends one event every TICK_MS to `session` until stopped; returns how many it sent. Values are
 * `<phase><tick> <send ns>`; `phase` can be switched while it runs.
 */
function startTicker(url: string, session: string): { phase: string; rtt: Record<string, number[]>; stop(): Promise<number> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let running = true;
  let sent = 0;
  const inflight = new Set<Promise<void>>();
  const ticker = {
    phase: 'q',
    /** Round trip of each ticker request (sent → 200, after its commit), by phase. */
    rtt: {} as Record<string, number[]>,
    async stop() {
      running = false;
      await loop;
      await Promise.all(inflight);
      agent.destroy();
      return sent;
    },
  };
  const loop = (async () => {
    const start = process.hrtime.bigint();
    for (let tick = 0; running; tick++) {
      const wait = Number(start + BigInt(tick * TICK_MS) * 1_000_000n - process.hrtime.bigint()) / 1e6;
      if (wait > 0) await sleep(wait);
      if (!running) break;
      const phase = ticker.phase;
      const t = process.hrtime.bigint();
      const body = `{"session":"${session}","key":"stdout","value":"${phase}${tick} ${t}"}\n`;
      sent++;
      const p = new Promise<void>((resolve, reject) => {
        const r = http.request(`${url}/v1/events`, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson' } }, (res) => {
          res.resume();
          res.on('end', () => {
            ticker.rtt[phase] ??= [];
            ticker.rtt[phase].push(Number(process.hrtime.bigint() - t) / 1e6);
            return res.statusCode === 200 ? resolve() : reject(new Error(`ticker: ingest answered ${res.statusCode}`));
          });
        });
        r.on('error', reject);
        r.end(body);
      });
      inflight.add(p);
      p.finally(() => inflight.delete(p)).catch(() => {});
    }
  })();
  return ticker;
}

function startClients(ctx: BenchContext, url: string, total: number): { procs: ChildProcess[]; ready: Promise<void>; results: Promise<WorkerResult[]> } {
  const procs: ChildProcess[] = [];
  const readies: Promise<void>[] = [];
  const results: Promise<WorkerResult>[] = [];
  for (let p = 0; p < CLIENT_PROCESSES; p++) {
    const clients = Math.floor(total / CLIENT_PROCESSES) + (p < total % CLIENT_PROCESSES ? 1 : 0);
    const child = fork(join(ctx.repoRoot, 'bench/workers/sse-clients.mjs'), [JSON.stringify({ url, clients, sampleEvery: SAMPLE_EVERY })], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    procs.push(child);
    readies.push(
      new Promise((resolve, reject) => {
        child.on('message', (m: { type: string }) => {
          if (m.type === 'ready') resolve();
        });
        child.once('exit', (code) => reject(new Error(`sse client process exited (code ${code}) before all connected`)));
      }),
    );
    results.push(
      new Promise((resolve, reject) => {
        child.on('message', (m: WorkerResult) => {
          if (m.type === 'result') resolve(m);
        });
        child.once('exit', (code) => reject(new Error(`sse client process exited (code ${code}) without a result`)));
      }),
    );
  }
  return { procs, ready: Promise.all(readies).then(() => {}), results: Promise.all(results) };
}

/** POSTs one NDJSON line to `url`'s ingest endpoint; resolves once answered. */
function postLine(url: string, line: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const r = http.request(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    r.on('error', reject);
    r.end(`${line}\n`);
  });
}

/**
 * Ends `session` at `url` and waits for every client's result (asking for them after 30 s); throws
 * unless every client got every one of the `sent` ticker events, the session.end event and `end`.
 */
async function endAndCollect(
  url: string,
  session: string,
  c: ReturnType<typeof startClients>,
  total: number,
  sent: number,
  who: string,
): Promise<WorkerResult[]> {
  await postLine(url, `{"session":"${session}","key":"session.end","value":0}`);
  const timer = setTimeout(() => {
    for (const p of c.procs) p.send({ type: 'report' });
  }, 30_000);
  const results = await c.results;
  clearTimeout(timer);
  const ended = results.reduce((a, r) => a + r.ended, 0);
  const minEvents = Math.min(...results.map((r) => r.minEvents));
  const maxEvents = Math.max(...results.map((r) => r.maxEvents));
  if (ended !== total || minEvents !== sent + 1 || maxEvents !== sent + 1) {
    throw new Error(`${who}: delivery incomplete: ${ended}/${total} clients got end; events per client ${minEvents}..${maxEvents}, sent ${sent}`);
  }
  return results;
}

/**
 * Phase 5: the same clients and ticker against the bare fan-out server for `ms`; every client must
 * get every event and the end, as from logsrv. Returns the delivery quantiles and the CPU split.
 */
async function bareFanout(ctx: BenchContext, total: number, ms: number, rep: number): Promise<{ p50: number; p99: number; cpu: ReturnType<typeof cpuShare> }> {
  const bare = fork(join(ctx.repoRoot, 'bench/workers/bare-fanout.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let procs: ChildProcess[] = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      bare.once('message', (m: { port: number }) => resolve(m.port));
      bare.once('exit', (code) => reject(new Error(`bare fan-out server exited (code ${code})`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const session = `bare-${rep}`;
    const c = startClients(ctx, `${url}/v1/sessions/${session}/tail`, total);
    procs = c.procs;
    await c.ready;
    const cpu0 = cpuNow(bare.pid as number, c.procs);
    const ticker = startTicker(url, session);
    await sleep(ms);
    const cpu1 = cpuNow(bare.pid as number, c.procs);
    const sent = await ticker.stop();
    const results = await endAndCollect(url, session, c, total, sent, 'bare fan-out');
    const lat = results.flatMap((r) => r.latencies.q ?? []);
    return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), cpu: cpuShare(cpu0, cpu1) };
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    if (bare.exitCode === null) {
      bare.send({ type: 'stop' });
      await new Promise((r) => bare.once('exit', r));
    }
  }
}

export const tailFanout: Benchmark = {
  name: 'tail-fanout',
  description:
    '10,000 SSE clients on one session at 100 events/s: delivery p50/p99 vs a bare Node.js fan-out, server RSS, bulk ingest rate with them attached vs without',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const total = Number(process.env.BENCH_FANOUT_CLIENTS || 10_000);
    const work = mkdtempSync(join(tmpdir(), 'logsrv-bench-fanout-'));
    const figures: Figure[] = [];
    const notes: string[] = [];
    let server: LogsrvProcess | undefined;
    let load: ClientProcess | undefined;
    const children: ChildProcess[] = [];
    try {
      // All clients come from 127.0.0.1: lift any per-address connection cap for this server.
      process.env.LOGSRV_MAX_CONNECTIONS_PER_IP ??= String(total + 1000);
      server = await startLogsrv({
        repoRoot: ctx.repoRoot,
        dataDir: join(work, 'data'),
        args: ['--log-level', 'warn', '--max-tail-clients', String(total + 100)],
        nodeArgs: process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [],
      });
      const started = await ClientProcess.start(ctx.repoRoot, {
        url: server.url,
        eventsPerRequest: 1000,
        connections: 4,
        ringBytes: 16 * 1024 * 1024,
        tag: 'fanx',
        seed: 7,
      });
      load = started.client;
      await load.run(1000); // warm-up, not counted
      const m = {
        rtt50: [] as number[],
        bare50: [] as number[],
        bare99: [] as number[],
        hubP99: [] as number[],
        rtt99: [] as number[],
        p50: [] as number[],
        p99: [] as number[],
        rssIdle: [] as number[],
        rssPeak: [] as number[],
        rateWith: [] as number[],
        rateWithout: [] as number[],
        cpuServer: [] as number[],
        cpuClients: [] as number[],
        cpuOther: [] as number[],
      };
      const loadedP99: number[] = [];
      for (let rep = 0; rep < ctx.reps; rep++) {
        const ms = ctx.seconds * 1000;
        // 1. Baseline: bulk ingest with the ticker, no tails.
        let ticker = startTicker(server.url, `fan-base-${rep}`);
        const without = await load.run(ms);
        await ticker.stop();
        m.rateWithout.push(without.accepted / without.seconds);

        // 2. Attach the clients, then the ticker alone.
        const session = `fan-${rep}`;
        const rssBefore = rssBytes(server.pid);
        const c = startClients(ctx, `${server.url}/v1/sessions/${session}/tail`, total);
        children.push(...c.procs);
        ctx.log(`  rep ${rep + 1}: baseline ${fmt(m.rateWithout.at(-1) as number)} events/s; connecting ${fmt(total)} clients`);
        await c.ready;
        ctx.log(`  rep ${rep + 1}: clients connected; ticker only for ${ctx.seconds} s`);
        const rssIdle = rssBytes(server.pid);
        let peak = rssIdle;
        const sampler = setInterval(() => {
          peak = Math.max(peak, rssBytes(server?.pid as number));
        }, 200);
        const h0 = commitToSend(await server.metrics());
        const cpu0 = cpuNow(server.pid, c.procs);
        ticker = startTicker(server.url, session);
        await sleep(ms);
        const cpu1 = cpuNow(server.pid, c.procs);
        const h1 = commitToSend(await server.metrics());
        m.hubP99.push(histogramQuantile(h0, h1, 0.99) * 1000);
        // 3. Bulk ingest with the clients attached (ticker still running).
        ticker.phase = 'l';
        ctx.log(`  rep ${rep + 1}: bulk ingest with the clients attached`);
        const withTails = await load.run(ms);
        m.rateWith.push(withTails.accepted / withTails.seconds);
        const cpu2 = cpuNow(server.pid, c.procs);
        const quietCpu = cpuShare(cpu0, cpu1);
        const loadedCpu = cpuShare(cpu1, cpu2);
        m.cpuServer.push(quietCpu.server);
        m.cpuClients.push(quietCpu.clients);
        m.cpuOther.push(quietCpu.other);
        ctx.log(
          `  rep ${rep + 1}: CPU, % of a core — ticker only: server ${fmt(quietCpu.server)} (main thread ${fmt(quietCpu.main)}), client processes ${fmt(quietCpu.clients)}, rest of the host ${fmt(quietCpu.other)}; with bulk ingest: server ${fmt(loadedCpu.server)} (main ${fmt(loadedCpu.main)}), clients ${fmt(loadedCpu.clients)}, rest ${fmt(loadedCpu.other)}`,
        );
        const sent = await ticker.stop();
        // 4. End the session: every client gets `end` and reports.
        ctx.log(`  rep ${rep + 1}: ending the session; collecting`);
        const results = await endAndCollect(server.url, session, c, total, sent, 'logsrv');
        clearInterval(sampler);
        const quiet = results.flatMap((r) => r.latencies.q ?? []);
        const loaded = results.flatMap((r) => r.latencies.l ?? []);
        m.rtt50.push(quantile(ticker.rtt.q ?? [], 0.5));
        m.rtt99.push(quantile(ticker.rtt.q ?? [], 0.99));
        m.p50.push(quantile(quiet, 0.5));
        m.p99.push(quantile(quiet, 0.99));
        loadedP99.push(quantile(loaded, 0.99));
        m.rssIdle.push(rssIdle / 2 ** 20);
        m.rssPeak.push(peak / 2 ** 20);
        ctx.log(
          `  rep ${rep + 1}: ${fmt(total)} clients, ${sent} events each (${fmt(sent * total)} frames); delivery p50 ${fmt(m.p50.at(-1) as number)} p99 ${fmt(m.p99.at(-1) as number)} ms, ticker round trip p50 ${fmt(m.rtt50.at(-1) as number)} p99 ${fmt(m.rtt99.at(-1) as number)} ms, server commit → sent p99 ≤ ${fmt(m.hubP99.at(-1) as number)} ms (p99 ${fmt(loadedP99.at(-1) as number)} ms under bulk ingest); RSS ${fmt(rssBefore / 2 ** 20)} → ${fmt(rssIdle / 2 ** 20)} → peak ${fmt(peak / 2 ** 20)} MiB; ingest ${fmt(m.rateWith.at(-1) as number)} vs ${fmt(m.rateWithout.at(-1) as number)} events/s`,
        );
        await Promise.all(c.procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
        // 5. The bare fan-out, same clients and ticker.
        const bare = await bareFanout(ctx, total, ms, rep);
        m.bare50.push(bare.p50);
        m.bare99.push(bare.p99);
        ctx.log(
          `  rep ${rep + 1}: bare Node.js fan-out: delivery p50 ${fmt(bare.p50)} p99 ${fmt(bare.p99)} ms; CPU, % of a core: its server ${fmt(bare.cpu.server)}, client processes ${fmt(bare.cpu.clients)}, rest of the host ${fmt(bare.cpu.other)}`,
        );
      }
      const caseName = `${fmt(total)} clients, 100 events/s`;
      const p50 = measurement('delivery p50 (send → receipt)', 'ms', m.p50);
      const p99 = measurement('delivery p99 (send → receipt)', 'ms', m.p99);
      const b50 = measurement('bare Node.js fan-out, delivery p50', 'ms', m.bare50);
      const b99 = measurement('bare Node.js fan-out, delivery p99', 'ms', m.bare99);
      figures.push({ ...p50, case: caseName, baseline: b50, ratio: p50.median / b50.median });
      figures.push({ ...p99, case: caseName, baseline: b99, ratio: p99.median / b99.median, targets: [{ text: '≤250 ms', met: p99.median <= 250 }] });
      figures.push({ ...measurement('ticker request round trip p50', 'ms', m.rtt50), case: caseName });
      figures.push({ ...measurement('ticker request round trip p99', 'ms', m.rtt99), case: caseName });
      figures.push({ ...measurement('server: commit → written to all sockets, p99 (bucket bound)', 'ms', m.hubP99), case: caseName });
      figures.push({ ...measurement('server RSS, clients attached', 'MiB', m.rssIdle), case: caseName });
      figures.push({ ...measurement('server RSS, peak', 'MiB', m.rssPeak), case: caseName });
      figures.push({ ...measurement('CPU, ticker only: server process', '% of a core', m.cpuServer), case: caseName });
      figures.push({ ...measurement('CPU, ticker only: SSE client processes', '% of a core', m.cpuClients), case: caseName });
      figures.push({ ...measurement('CPU, ticker only: rest of the host', '% of a core', m.cpuOther), case: caseName });
      const withF = measurement('bulk ingest with clients attached', 'events/s', m.rateWith);
      const base = measurement('bulk ingest, no tails', 'events/s', m.rateWithout);
      const ratio = withF.median / base.median;
      figures.push({ ...withF, case: caseName, baseline: base, ratio, targets: [{ text: '≥0.8× no tails', met: ratio >= 0.8 }] });
      notes.push(
        'An event is sent to the tails only once committed: the ticker request round trip (answered after the commit) is part of delivery latency, measured in the same run.',
        'Baseline: the same clients and ticker against a bare Node.js fan-out server (bench/workers/bare-fanout.mjs: each posted line forwarded to every socket in back-to-back passes of one write per socket, 512 sockets per turn; no store, no pacing), run after logsrv in each repetition — what the machine allows at all with the clients on its 2 cores.',
        `Delivery p99 while the bulk ingest also runs: ${loadedP99.map((x) => fmt(x)).join(' / ')} ms (the ticker's own commits wait behind 1000-event batches then).`,
        `Latency is sampled on 1 in ${SAMPLE_EVERY} clients; every client is checked to get every event and the end.`,
        `Clients run in ${CLIENT_PROCESSES} child processes on the same 2 cores as the server and the load client, so the "with clients" rate also pays for the clients reading their sockets (raw TCP, frames counted on the bytes; measured ~15–25 µs of client CPU per socket read, about what the server spends per socket write).`,
      );
      return { figures, notes, params: { clients: total, eventsPerSecond: 1000 / TICK_MS, clientProcesses: CLIENT_PROCESSES, sampleEvery: SAMPLE_EVERY } };
    } finally {
      for (const p of children) if (p.exitCode === null) p.kill('SIGKILL');
      await load?.close();
      await server?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  },
};
