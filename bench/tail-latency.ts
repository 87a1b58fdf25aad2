/**
 * `tail-latency`: how long after an ingest request is sent its events reach a live SSE tail of
 * their session, beside the request's own round trip (sent → `200`, which the server answers
 * only after the commit). The tail can only show what is committed, so the round trip is the
 * floor it is compared with: the ratio says what the hub adds on top of the commit.
 *
 * One process sends `rate / 100` events every 10 ms on keep-alive connections (requests may
 * overlap) and reads the tail; each event carries its request's monotonic send time. A line's
 * latency is its receipt time minus that. Target (issue 3): p99 ≤ 5 ms at 1,000 events/s.
 *
 * Knobs (env): BENCH_SECONDS, BENCH_REPS. The first 500 ms of each repetition are left out.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type LogsrvProcess, startLogsrv } from './lib/logsrv-process.ts';
import { fmt, maxOf, measurement, quantile } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';

const RATES = [1000, 10_000];
const TICK_MS = 10;
const WARMUP_NS = 500_000_000n;

interface Sample {
  tail: number[];
  rtt: number[];
}

/** Opens the tail and resolves once its preamble arrived; `onValue` gets each event's value and receipt time. */
function openTail(url: string, onValue: (value: string, now: bigint) => void, onEnd: () => void): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`tail answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buf = '';
      let ready = false;
      res.on('data', (s: string) => {
        const now = process.hrtime.bigint();
        if (!ready) {
          ready = true;
          resolve(req);
        }
        buf += s;
        let cut = buf.indexOf('\n\n');
        while (cut !== -1) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          cut = buf.indexOf('\n\n');
          if (frame.includes('event: end')) {
            onEnd();
            continue;
          }
          const at = frame.indexOf('data: ');
          if (at === -1) continue;
          const e = JSON.parse(frame.slice(at + 6)) as { key: string; value: unknown };
          if (e.key === 'stdout') onValue(e.value as string, now);
        }
      });
    });
    req.on('error', reject);
  });
}

async function rep(ctx: BenchContext, server: LogsrvProcess, rate: number, session: string): Promise<Sample> {
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
  const ticks = Math.round((ctx.seconds * 1000) / TICK_MS);
  const tail: number[] = [];
  const rtt: number[] = [];
  let received = 0;
  let t0: bigint | null = null;
  let ended: () => void = () => {};
  const end = new Promise<void>((r) => {
    ended = r;
  });
  const req = await openTail(
    `${server.url}/v1/sessions/${session}/tail`,
    (value, now) => {
      received++;
      const sent = BigInt(value.slice(value.indexOf(' ') + 1));
      if (t0 !== null && sent - t0 >= WARMUP_NS) tail.push(Number(now - sent) / 1e6);
    },
    () => ended(),
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const inflight = new Set<Promise<void>>();
  const post = (body: string, sent: bigint, measure: boolean) => {
    const p = new Promise<void>((resolve, reject) => {
      const r = http.request(`${server.url}/v1/events`, { method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson' } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`ingest answered ${res.statusCode}`));
          if (measure) rtt.push(Number(process.hrtime.bigint() - sent) / 1e6);
          resolve();
        });
      });
      r.on('error', reject);
      r.end(body);
    });
    inflight.add(p);
    p.finally(() => inflight.delete(p)).catch(() => {});
    return p;
  };
  const failures: Error[] = [];
  const start = process.hrtime.bigint();
  t0 = start;
  let line = 0;
  for (let tick = 0; tick < ticks; tick++) {
    // Absolute schedule: a late tick does not push the later ones back.
    const due = start + BigInt(tick * TICK_MS) * 1_000_000n;
    const wait = Number(due - process.hrtime.bigint()) / 1e6;
    if (wait > 0) await sleep(wait);
    const sent = process.hrtime.bigint();
    let body = '';
    for (let i = 0; i < perTick; i++) body += `{"session":"${session}","key":"stdout","value":"${line++} ${sent}"}\n`;
    post(body, sent, sent - start >= WARMUP_NS).catch((e: Error) => failures.push(e));
  }
  await Promise.all(inflight);
  await post(`{"session":"${session}","key":"session.end","value":0}\n`, process.hrtime.bigint(), false);
  await Promise.race([end, sleep(10_000)]);
  req.destroy();
  agent.destroy();
  if (failures.length > 0) throw failures[0];
  if (received !== line) throw new Error(`the tail got ${received} of ${line} events`);
  return { tail, rtt };
}

export const tailLatency: Benchmark = {
  name: 'tail-latency',
  description:
    'ingest request sent → its events received by an SSE tail, p50/p99 at 1k and 10k events/s; baseline the request round trip (sent → 200 after commit)',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const work = mkdtempSync(join(tmpdir(), 'logsrv-bench-tail-lat-'));
    const figures: Figure[] = [];
    const notes: string[] = [];
    let server: LogsrvProcess | undefined;
    try {
      server = await startLogsrv({ repoRoot: ctx.repoRoot, dataDir: join(work, 'data'), args: ['--log-level', 'warn'] });
      for (const rate of RATES) {
        const ours = { p50: [] as number[], p99: [] as number[], max: [] as number[] };
        const base = { p50: [] as number[], p99: [] as number[] };
        for (let r = 0; r < ctx.reps; r++) {
          const s = await rep(ctx, server, rate, `lat-${rate}-${r}`);
          ours.p50.push(quantile(s.tail, 0.5));
          ours.p99.push(quantile(s.tail, 0.99));
          ours.max.push(maxOf(s.tail));
          base.p50.push(quantile(s.rtt, 0.5));
          base.p99.push(quantile(s.rtt, 0.99));
          ctx.log(
            `  ${fmt(rate)} events/s rep ${r + 1}: tail p50 ${fmt(ours.p50.at(-1) as number)} p99 ${fmt(ours.p99.at(-1) as number)} ms; round trip p50 ${fmt(base.p50.at(-1) as number)} p99 ${fmt(base.p99.at(-1) as number)} ms`,
          );
        }
        const caseName = `${fmt(rate)} events/s`;
        for (const q of ['p50', 'p99'] as const) {
          const f = measurement(`sent → SSE receipt ${q}`, 'ms', ours[q]);
          const b = measurement(`request round trip ${q}`, 'ms', base[q]);
          const targets = q === 'p99' && rate === 1000 ? [{ text: '≤5 ms', met: f.median <= 5 }] : [];
          figures.push({ ...f, case: caseName, baseline: b, ratio: f.median / b.median, targets });
        }
        notes.push(`${caseName}: worst event per repetition ${ours.max.map((x) => fmt(x)).join(' / ')} ms.`);
      }
      notes.push(
        `Events are sent every ${TICK_MS} ms in one request (10 events at 1k/s, 100 at 10k/s); the tail reader and the sender share the benchmark process, the server is its own process on the same 2 cores.`,
        'An event reaches the tail only after its batch is committed to SQLite: the round trip (answered after the commit) is the floor; the ratio is what the hub adds.',
      );
      return { figures, notes, params: { rates: RATES, tickMs: TICK_MS, warmupMs: 500 } };
    } finally {
      await server?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  },
};
