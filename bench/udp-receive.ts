/**
 * `udp-receive`: the UDP receive side's own capacity, without the store — so a change to the
 * receive thread can be judged in seconds, and `udp-ingest`'s loss can be split between the
 * receiver and the writer behind it. The real receiver (ingest/udp-ingest.ts: its receive thread
 * reads, parses and validates; this process's main thread unpacks and publishes to a MemoryQueue)
 * runs in this process; a consumer on the main thread takes and acknowledges every batch without
 * storing it. Separate sender processes (bench/lib/udp-senders.ts) offer the load.
 *
 * Figures, per rate and format (NDJSON on `--udp`, syslog on `--syslog-udp`): CPU µs per datagram
 * of the receive thread, beside a baseline measured in the same repetition — a worker thread that
 * only counts the datagrams of a dgram socket (the floor of Node's receive path: one recvmsg, one
 * buffer and one callback per datagram); the main thread's µs per event; and the loss, all of it
 * counted (kernel `socket_overflow` from /proc/net/udp, the receiver's own drops).
 *
 * Knobs (env): BENCH_SECONDS (per repetition; default 5 when unset), BENCH_REPS,
 * BENCH_UDP_RATES (default 50000,100000), BENCH_UDP_SENDERS (2), BENCH_UDP_FORMATS (json,syslog),
 * BENCH_UDP_READER (`auto`: the native recvmmsg reader where built, the default; `dgram`: node:dgram).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { UdpIngest } from '../packages/server/dist/ingest/udp-ingest.js';
import { createMetrics } from '../packages/server/dist/metrics.js';
import { MemoryQueue } from '../packages/server/dist/queue/memory-queue.js';
import { envChoice, envNumber, envNumbers } from './lib/env.ts';
import { fmt, measurement } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';
import { UdpSenders } from './lib/udp-senders.ts';

const HOST = '127.0.0.1';
const RECV_BUFFER = 4 * 1024 * 1024;
const SYSLOG_SESSION = '{hostname}/{app}|{hostname}|{peer}';

/** CPU ms of each thread of this process, by thread id (Linux /proc). */
function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Starts `start()` and returns its result with the thread ids that appeared meanwhile. */
async function newThreads<T>(start: () => Promise<T>): Promise<{ value: T; tids: number[] }> {
  const before = new Set(threadCpuMs().keys());
  const value = await start();
  await sleep(100);
  return { value, tids: [...threadCpuMs().keys()].filter((t) => !before.has(t)) };
}

const FLOOR_SOURCE = `
const { createSocket } = require('node:dgram');
const { parentPort } = require('node:worker_threads');
const s = createSocket({ type: 'udp4', recvBufferSize: ${RECV_BUFFER} });
let n = 0;
s.on('message', () => { n++; });
s.bind(0, '${HOST}', () => parentPort.postMessage(s.address().port));
parentPort.on('message', () => parentPort.postMessage(n));
`;

/** The baseline: Node's dgram receive path alone, on a thread of its own. */
class FloorReceiver {
  private constructor(
    private readonly worker: Worker,
    readonly port: number,
  ) {}

  static async start(): Promise<FloorReceiver> {
    const worker = new Worker(FLOOR_SOURCE, { eval: true });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return new FloorReceiver(worker, port);
  }

  count(): Promise<number> {
    return new Promise((resolve) => {
      this.worker.once('message', resolve);
      this.worker.postMessage(0);
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

interface Sample {
  sent: number;
  seconds: number;
  got: number;
  recvUs: number;
  mainUs: number;
}

function cpuDiff(a: Map<number, number>, b: Map<number, number>, tids: number[]): number {
  return tids.reduce((s, t) => s + ((b.get(t) ?? 0) - (a.get(t) ?? 0)), 0);
}

async function measure(senders: UdpSenders, port: number, rate: number, ms: number, got: () => Promise<number> | number, recvTids: number[]): Promise<Sample> {
  const n0 = await got();
  const t0 = threadCpuMs();
  const load = await senders.offer(HOST, port, rate, ms);
  const t1 = threadCpuMs();
  // What the kernel still holds is read after the window: counted, not timed.
  await sleep(300);
  const n = (await got()) - n0;
  const per = (cpuMs: number) => (n === 0 ? Number.NaN : (cpuMs * 1000) / n);
  return { sent: load.sent, seconds: load.seconds, got: n, recvUs: per(cpuDiff(t0, t1, recvTids)), mainUs: per(cpuDiff(t0, t1, [process.pid])) };
}

const rates = () => envNumbers('BENCH_UDP_RATES', [50_000, 100_000], 100);

export const udpReceive: Benchmark = {
  name: 'udp-receive',
  description:
    "the UDP receive side alone (receive thread + main-thread hand-off to the queue, no store), µs CPU per datagram, vs Node's bare dgram receive on a thread of its own",
  async run(ctx: BenchContext): Promise<BenchReport> {
    const seconds = process.env.BENCH_SECONDS ? ctx.seconds : 5;
    const senderCount = Math.round(envNumber('BENCH_UDP_SENDERS', 2, 1));
    const formats = (process.env.BENCH_UDP_FORMATS ?? 'json,syslog').split(',').map((s) => s.trim()) as Array<'json' | 'syslog'>;
    const figures: Figure[] = [];
    const notes: string[] = [
      `${senderCount} sender processes share the machine's ${availableParallelism()} cores; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' / ')} at start.`,
    ];
    for (const format of formats) {
      const senders = await UdpSenders.start(ctx.repoRoot, senderCount, format === 'syslog' ? 'sys2' : 'udp2', 0, format);
      try {
        for (const rate of rates()) {
          const label = `${format === 'syslog' ? 'syslog' : 'NDJSON'}, ${fmt(rate)} datagrams/s offered`;
          const transport = format === 'syslog' ? 'syslog' : 'udp';
          const queue = new MemoryQueue({ maxEvents: 200_000, maxBytes: 256 * 1024 * 1024, lastId: null, clock: Date.now });
          const metrics = createMetrics();
          let taken = 0;
          const consumer = (async () => {
            for (;;) {
              const b = await queue.take(10_000);
              if (!b) return;
              taken += b.events.length;
              await queue.ack(b, undefined);
            }
          })();
          const warnings: string[] = [];
          const udp = new UdpIngest({
            host: HOST,
            port: 0,
            recvBufferBytes: RECV_BUFFER,
            maxDatagramBytes: 65_507,
            maxLineBytes: 1024 * 1024,
            batchEvents: 1000,
            queue,
            metrics,
            warn: (m) => warnings.push(m),
            format,
            syslogSession: SYSLOG_SESSION,
            transport,
            reader: envChoice<'auto' | 'dgram'>('BENCH_UDP_READER', ['auto', 'dgram']),
          });
          const ours = await newThreads(() => udp.start());
          const floor = await newThreads(() => FloorReceiver.start());
          const oursRuns: Sample[] = [];
          const floorRuns: Sample[] = [];
          try {
            await senders.offer(HOST, ours.value, rate, 1000); // warm-up
            await senders.offer(HOST, floor.value.port, rate, 1000);
            for (let r = 0; r < ctx.reps; r++) {
              const o = await measure(senders, ours.value, rate, seconds * 1000, () => taken, ours.tids);
              const f = await measure(senders, floor.value.port, rate, seconds * 1000, () => floor.value.count(), floor.tids);
              oursRuns.push(o);
              floorRuns.push(f);
              ctx.log(
                `  ${label} rep ${r + 1}: receiver ${fmt(o.got)}/${fmt(o.sent)} taken, receive thread ${fmt(o.recvUs)} µs, main ${fmt(o.mainUs)} µs per datagram; ` +
                  `bare dgram ${fmt(f.got)}/${fmt(f.sent)}, ${fmt(f.recvUs)} µs; load ${loadavg()[0]?.toFixed(2)}`,
              );
            }
          } finally {
            await udp.close();
            queue.close();
            await consumer;
            await floor.value.close();
          }
          const text = await metrics.registry.metrics();
          const drops = [...text.matchAll(new RegExp(`^logsrv_dropped_total\\{transport="${transport}",reason="(\\w+)"\\} (\\d+)`, 'gm'))].map(
            (m) => `${m[1]} ${fmt(Number(m[2]))}`,
          );
          const recv = measurement(
            'receive thread',
            'µs CPU/datagram',
            oursRuns.map((s) => s.recvUs),
          );
          const base = measurement(
            "bare dgram receive (Node's floor)",
            'µs CPU/datagram',
            floorRuns.map((s) => s.recvUs),
          );
          figures.push({ ...recv, case: label, baseline: base, ratio: recv.median / base.median });
          figures.push({
            ...measurement(
              'main thread (unpack + publish + take/ack)',
              'µs CPU/event',
              oursRuns.map((s) => s.mainUs),
            ),
            case: label,
          });
          const lossPct = (s: Sample) => (s.sent === 0 ? 0 : ((s.sent - s.got) / s.sent) * 100);
          figures.push({
            ...measurement('receiver loss (no store)', '%', oursRuns.map(lossPct)),
            case: label,
            baseline: measurement('bare dgram loss', '%', floorRuns.map(lossPct)),
          });
          notes.push(
            `${label}: receiver drops by reason (whole run incl. warm-up): ${drops.join(', ') || 'none'}${warnings.length ? `; warnings: ${warnings.join(' | ')}` : ''}.`,
          );
        }
      } finally {
        await senders.close();
      }
    }
    notes.push(
      "Both receivers read one datagram per recvmsg(2) call (Node's dgram has no recvmmsg); rsyslog's imudp reads up to 32 per call, which is most of the gap between their CPU per datagram.",
    );
    return {
      figures,
      notes,
      params: { rates: rates(), formats, secondsPerRep: seconds, senderProcesses: senderCount, recvBufferBytes: RECV_BUFFER, batchEvents: 1000 },
    };
  },
};
