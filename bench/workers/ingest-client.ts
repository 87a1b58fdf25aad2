/**
 * Load generator for `ingest-http`, run as a child process by bench/lib/client-process.ts (argv[2]
 * is its JSON config). It keeps `connections` keep-alive sockets to the server, each with one
 * `POST /v1/events` in flight, for as long as each `run` command says.
 *
 * Bodies are generated once at start (not timed) as a ring of templates; before each send a
 * template is stamped with the next line numbers, so the server never sees the same line twice.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientCommand, ClientConfig, ClientMessage, ClientRunResult } from '../lib/client-process.ts';
import { type BodyTemplate, createRng, makeBody, stamp } from '../lib/ndjson-workload.ts';
import { quantile } from '../lib/stats.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as ClientConfig;
const target = new URL(config.url);

function send(m: ClientMessage): void {
  process.send?.(m);
}

interface Slot {
  t: BodyTemplate;
  /** A template in flight must not be re-stamped: the socket may still be reading its buffer. */
  busy: boolean;
}

const ring: Slot[] = [];
let nextSlot = 0;
/** Line numbers run on across runs, so warm-up and every repetition send distinct lines. */
let nextLine = 0;

const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections, maxFreeSockets: config.connections });

function post(body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method: 'POST',
        path: '/v1/events',
        headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function takeSlot(): Slot {
  for (;;) {
    const s = ring[nextSlot++ % ring.length] as Slot;
    if (!s.busy) return s;
  }
}

async function run(ms: number): Promise<ClientRunResult> {
  const r: ClientRunResult = {
    seconds: 0,
    requests: 0,
    accepted: 0,
    rejected: 0,
    bytes: 0,
    overloaded: 0,
    errors: [],
    latencyMsP50: 0,
    latencyMsP99: 0,
    cpuMs: 0,
  };
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + ms;

  const connection = async () => {
    while (performance.now() < deadline && r.errors.length < 20) {
      const slot = takeSlot();
      slot.busy = true;
      stamp(slot.t, nextLine);
      nextLine += slot.t.lines;
      const sent = performance.now();
      try {
        const res = await post(slot.t.buf);
        if (res.status === 200) {
          const body = JSON.parse(res.text) as { accepted: number; rejected: unknown[]; rejectedTotal?: number; duplicates?: number };
          // The workload sends no (producer, seq), so nothing may be taken for a retried duplicate.
          if (body.duplicates) r.errors.push(`server reported ${body.duplicates} duplicates for events without producer/seq`);
          r.requests++;
          r.accepted += body.accepted;
          r.rejected += body.rejectedTotal ?? body.rejected.length;
          r.bytes += slot.t.buf.length;
          latencies.push(performance.now() - sent);
          if (body.rejected.length > 0 && r.errors.length < 20) r.errors.push(`rejected lines: ${JSON.stringify(body.rejected.slice(0, 3))}`);
        } else if (res.status === 503) {
          r.overloaded++;
          await sleep(20);
        } else {
          r.errors.push(`HTTP ${res.status}: ${res.text.slice(0, 300)}`);
        }
      } catch (err) {
        r.errors.push(`request failed: ${(err as Error).message}`);
      } finally {
        slot.busy = false;
      }
    }
  };
  await Promise.all(Array.from({ length: config.connections }, connection));

  r.seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  r.cpuMs = (cpu.user + cpu.system) / 1000;
  r.latencyMsP50 = quantile(latencies, 0.5);
  r.latencyMsP99 = quantile(latencies, 0.99);
  return r;
}

// Enough distinct templates that the ring never wraps onto a body still in flight, and a few MB
// more so consecutive requests do not reuse hot cache lines.
const rng = createRng(config.seed);
const approxBody = config.eventsPerRequest * 200;
const count = Math.max(config.connections * 4, Math.ceil(config.ringBytes / approxBody));
let bytes = 0;
for (let i = 0; i < count; i++) {
  const t = makeBody(config.eventsPerRequest, rng, config.tag);
  bytes += t.buf.length;
  ring.push({ t, busy: false });
}

process.on('message', (cmd: ClientCommand) => {
  if (cmd.type === 'exit') {
    agent.destroy();
    process.disconnect?.();
    return;
  }
  run(cmd.ms).then(
    (result) => send({ type: 'result', result }),
    (err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
send({ type: 'ready', bodies: ring.length, bytes });
