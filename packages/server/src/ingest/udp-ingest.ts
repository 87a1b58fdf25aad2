/**
 * UDP ingest (SPEC §2, contract): each datagram holds one JSON event or several NDJSON lines; no
 * reply. The socket is read, and datagrams parsed and validated, on a thread of their own
 * (`udp-worker.ts`), so nothing on the main thread can delay reading it. Batches of valid events
 * come back here and are published to the queue without awaiting the commit; a publish the queue
 * refuses is a counted drop. Every event that is not stored is counted in
 * `logsrv_dropped_total{transport="udp",reason}`, so sent = stored + dropped.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { NormalizedEvent } from '@logsrv/protocol';
import { LogsrvError } from '@logsrv/protocol';
import { type PackedEvents, unpackEvents } from '../batch/index.js';
import type { Metrics } from '../metrics.js';
import type { Queue } from '../queue/queue.js';
import type { BlockedSources } from '../reports/blocked-sources.js';
import type { SessionResolver } from './accept.js';
import type { FromUdpWorker, ToUdpWorker, UdpBatch, UdpReaderKind, UdpWorkerData } from './udp-messages.js';

/**
 * Batches the receive thread may hand over before the main thread takes them (then `queue_full`):
 * 64 × 1000 events, ~13 MB, ~0.6 s at 100k events/s. The native reader's ring lets the receive
 * thread catch up at once after a wait for a core, and the batches it then hands over in a row met
 * a main thread that was itself waiting: at 16 (the bound before 2026-12-07) `bench udp-ingest` at
 * 100k datagrams/s dropped 1,178–10,096 events as `queue_full` in 3 of 9 repetitions; at 64 the
 * only `queue_full` of 9 came in one run whose index thread got 3–9 % of a core, the writer waiting
 * at the index's burst bound (3 interleaved runs of 3 repetitions each).
 */
export const UNACKED_BATCHES = 64;

/**
 * Datagrams the kernel discarded on the UDP socket bound to local `port` because its buffer was
 * full (the `drops` column of /proc/net/udp, or udp6), or null when there is no such socket or no
 * /proc (not Linux).
 */
export function kernelUdpDrops(port: number, v6 = false): number | null {
  let text: string;
  try {
    text = readFileSync(v6 ? '/proc/net/udp6' : '/proc/net/udp', 'utf8');
  } catch {
    return null; // not Linux
  }
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[1]?.endsWith(hexPort)) return Number(cols[cols.length - 1]);
  }
  return null;
}

export interface UdpIngestOptions {
  host: string;
  port: number;
  /** SO_RCVBUF asked of the OS; the kernel may cap it (net.core.rmem_max). */
  recvBufferBytes: number;
  maxDatagramBytes: number;
  maxLineBytes: number;
  /** Events per published batch. */
  batchEvents: number;
  /** Events the receive thread may hand over before the main thread takes them; default {@link UNACKED_BATCHES} batches. */
  maxUnackedEvents?: number;
  queue: Queue;
  metrics: Metrics;
  /** Datagrams per second per source address, with burst; UDP's own allowance (SPEC §7). */
  rateLimit?: { perSecond: number; burst: number } | undefined;
  blocked?: BlockedSources | undefined;
  resolveSession?: SessionResolver | undefined;
  warn: (msg: string) => void;
  /** What the datagrams hold (default `json`, SPEC §2); `syslog` also needs `syslogSession`. */
  format?: 'json' | 'syslog';
  syslogSession?: string;
  /** The `transport` label of this receiver's counters (default `udp`). */
  transport?: string;
  /** `--udp-reader`: `auto` (default) reads with recvmmsg where the native reader is built, `dgram` with node:dgram. */
  reader?: 'auto' | 'dgram';
}

export class UdpIngest {
  private worker: Worker | null = null;
  private port: number | null = null;
  private closed: Promise<void> | null = null;
  private signalClosed: (() => void) | null = null;
  /** The receive thread is gone (closed, failed to bind, or crashed): nothing to wait for. */
  private exited = false;
  /** Publishes not yet settled; close() waits for them so their drops are counted. */
  private readonly pending = new Set<Promise<unknown>>();

  private readonly transport: string;
  private readerKind: UdpReaderKind | null = null;

  /** How the socket is read, once bound. */
  get reader(): UdpReaderKind | null {
    return this.readerKind;
  }

  constructor(private readonly o: UdpIngestOptions) {
    this.transport = o.transport ?? 'udp';
  }

  /** Starts the receive thread and binds; resolves with the bound port. */
  start(): Promise<number> {
    const o = this.o;
    const data: UdpWorkerData = {
      host: o.host,
      port: o.port,
      recvBufferBytes: o.recvBufferBytes,
      maxDatagramBytes: o.maxDatagramBytes,
      maxLineBytes: o.maxLineBytes,
      batchEvents: o.batchEvents,
      maxUnackedEvents: o.maxUnackedEvents ?? UNACKED_BATCHES * o.batchEvents,
      rateLimit: o.rateLimit ?? null,
      format: o.format ?? 'json',
      syslogSession: o.syslogSession ?? '',
      reader: o.reader ?? 'auto',
    };
    const worker = new Worker(new URL('./udp-worker.js', import.meta.url), { workerData: data });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromUdpWorker) => {
        switch (m.type) {
          case 'batch':
            this.take(m);
            break;
          case 'bound':
            this.readerKind = m.reader;
            // Only a reader that should be there and is not is worth a word; asking for dgram, or another OS, is not.
            if (m.reader === 'dgram' && (o.reader ?? 'auto') === 'auto' && process.platform === 'linux') {
              o.warn(`UDP ${o.host}:${m.port} is read with node:dgram, one datagram per call: ${m.why}`);
            }
            this.bound(m.port, m.grantedBytes);
            resolve(m.port);
            break;
          case 'failed':
            reject(new Error(`UDP ${o.host}:${o.port}: ${m.message}`));
            void worker.terminate();
            break;
          case 'warn':
            o.warn(m.message);
            break;
          case 'closed':
            this.signalClosed?.();
            break;
        }
      });
      worker.on('error', (err) => {
        reject(err);
        o.warn(`UDP receive thread failed: ${err.message}`);
        this.signalClosed?.();
      });
      worker.on('exit', () => {
        this.exited = true;
        this.signalClosed?.();
      });
    });
  }

  private bound(port: number, granted: number): void {
    const o = this.o;
    this.port = port;
    if (granted < o.recvBufferBytes) {
      o.warn(
        `UDP receive buffer is ${granted} bytes, asked for ${o.recvBufferBytes} (--udp-recv-buffer-bytes): the OS caps it; ` +
          `raise net.core.rmem_max (sysctl -w net.core.rmem_max=${o.recvBufferBytes}) or expect loss under bursts`,
      );
    }
    this.watchKernelDrops(port, o.host.includes(':'));
  }

  /**
   * Datagrams the kernel discarded because the socket buffer was full never reach us; Linux counts
   * them per socket in /proc/net/udp ("drops"). Each scrape adds the increase to
   * `logsrv_dropped_total{reason="socket_overflow"}`, so losses before the receiver are counted too.
   */
  private watchKernelDrops(port: number, v6: boolean): void {
    const read = () => kernelUdpDrops(port, v6);
    let seen = read() ?? -1;
    if (seen < 0) return;
    this.o.metrics.beforeDroppedScrape.push(() => {
      if (this.port === null) return;
      const now = read();
      if (now !== null && now > seen) {
        this.o.metrics.dropped.inc({ transport: this.transport, reason: 'socket_overflow' }, now - seen);
        seen = now;
      }
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.closed ??= this.exited
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.signalClosed = resolve;
          worker.postMessage({ type: 'close' } satisfies ToUdpWorker);
        });
    await this.closed;
    this.port = null;
    this.worker = null;
    await worker.terminate();
    await Promise.allSettled([...this.pending]);
  }

  /** One hand-over from the receive thread: counts into metrics, events into the queue. */
  private take(m: UdpBatch): void {
    const o = this.o;
    const metrics = o.metrics;
    if (m.received > 0) metrics.received.inc({ transport: this.transport }, m.received);
    for (const [reason, n] of m.drops) metrics.dropped.inc({ transport: this.transport, reason }, n);
    for (const [source, n] of m.blocked) o.blocked?.record(source, 'udp', n);
    if (!m.packed) return;
    // Taken: from here the queue bounds memory, and the receive thread may hand over more.
    this.worker?.postMessage({ type: 'ack', events: m.packed.n } satisfies ToUdpWorker);
    // Kept packed when every event has its session: the main thread then makes no object per
    // event, and the SQLite store hands the batch to its writer thread as it came.
    let events: NormalizedEvent[] | PackedEvents = m.packed;
    let n = m.packed.n;
    if (m.unresolved.length > 0) {
      events = this.resolve(unpackEvents(m.packed), m.unresolved);
      n = events.length;
      if (n === 0) return;
    }
    const p = o.queue.publish(events, m.bytes).then(
      (c) => metrics.accepted.inc({ transport: this.transport }, n - (c.duplicates?.length ?? 0)),
      (err: unknown) => {
        const reason =
          err instanceof LogsrvError && err.code === 'LOGSRV_ERR_QUEUE_FULL'
            ? 'queue_full'
            : err instanceof LogsrvError && err.code === 'LOGSRV_ERR_SHUTTING_DOWN'
              ? 'shutting_down'
              : err instanceof LogsrvError && err.code === 'LOGSRV_ERR_QUEUE_UNAVAILABLE'
                ? 'queue_unavailable'
                : 'store_error';
        metrics.dropped.inc({ transport: this.transport, reason }, n);
      },
    );
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }

  /** Events that came without a session get the registry's (SPEC §5), or are dropped. */
  private resolve(events: NormalizedEvent[], unresolved: number[]): NormalizedEvent[] {
    let dropped = 0;
    for (const i of unresolved) {
      const e = events[i] as NormalizedEvent;
      const session = this.o.resolveSession?.(e.user ?? undefined, e.terminal ?? undefined);
      if (session) e.session = session;
      else {
        (events as Array<NormalizedEvent | null>)[i] = null;
        dropped++;
      }
    }
    if (dropped === 0) return events;
    this.o.metrics.dropped.inc({ transport: this.transport, reason: 'unresolved_session' }, dropped);
    return events.filter((e) => e !== null);
  }
}
