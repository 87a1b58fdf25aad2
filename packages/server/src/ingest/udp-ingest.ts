/**
 * UDP ingest (SPEC §2, contract): each datagram holds one JSON event or several NDJSON lines; no
 * reply. The receive path never waits on storage: valid events are gathered into a batch that is
 * published on the next turn of the event loop (or when it is full) without awaiting the commit;
 * a publish the queue refuses is a counted drop. Every event that is not stored is counted in
 * `logsrv_dropped_total{transport="udp",reason}`, so sent = stored + dropped.
 */
import { isUtf8 } from 'node:buffer';
import type { RemoteInfo, Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { NormalizedEvent } from '@logsrv/protocol';
import { LogsrvError } from '@logsrv/protocol';
import type { SourceLimiter } from '../limits/rate-limit.js';
import type { Metrics } from '../metrics.js';
import type { Queue } from '../queue/queue.js';
import type { BlockedSources } from '../reports/blocked-sources.js';
import type { SessionResolver } from './accept.js';
import { acceptLine, isRejection } from './accept.js';

export interface UdpIngestOptions {
  host: string;
  port: number;
  /** SO_RCVBUF asked of the OS; the kernel may cap it (net.core.rmem_max). */
  recvBufferBytes: number;
  maxDatagramBytes: number;
  maxLineBytes: number;
  /** Events per published batch. */
  batchEvents: number;
  queue: Queue;
  metrics: Metrics;
  limiter?: SourceLimiter | undefined;
  blocked?: BlockedSources | undefined;
  resolveSession?: SessionResolver | undefined;
  warn: (msg: string) => void;
}

export class UdpIngest {
  private socket: Socket | null = null;
  private batch: NormalizedEvent[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  // Counted here and added to the prom-client counters once per turn of the event loop: a
  // labelled inc() per datagram showed up in the receive path's profile.
  private receivedCount = 0;
  private readonly dropCounts = new Map<string, number>();
  /** Publishes not yet settled; close() waits for them so their drops are counted. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly o: UdpIngestOptions) {}

  /** Binds and starts receiving; resolves with the bound port. */
  start(): Promise<number> {
    const o = this.o;
    const socket = createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: o.recvBufferBytes });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(o.port, o.host, () => {
        socket.off('error', reject);
        socket.on('error', (err) => o.warn(`udp socket error: ${err.message}`));
        // Linux reports twice the size it grants (the kernel's bookkeeping share).
        const granted = socket.getRecvBufferSize() / 2;
        if (granted < o.recvBufferBytes) {
          o.warn(
            `UDP receive buffer is ${granted} bytes, asked for ${o.recvBufferBytes} (--udp-recv-buffer-bytes): the OS caps it; ` +
              `raise net.core.rmem_max (sysctl -w net.core.rmem_max=${o.recvBufferBytes}) or expect loss under bursts`,
          );
        }
        const port = socket.address().port;
        this.watchKernelDrops(port, o.host.includes(':'));
        resolve(port);
      });
    });
  }

  /**
   * Datagrams the kernel discarded because the socket buffer was full never reach us; Linux counts
   * them per socket in /proc/net/udp ("drops"). Each scrape adds the increase to
   * `logsrv_dropped_total{reason="socket_overflow"}`, so losses before the receiver are counted too.
   */
  private watchKernelDrops(port: number, v6: boolean): void {
    const file = v6 ? '/proc/net/udp6' : '/proc/net/udp';
    const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    let seen = -1;
    const read = (): number | null => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return null; // not Linux
      }
      for (const line of text.split('\n')) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(hexPort)) return Number(cols[cols.length - 1]);
      }
      return null;
    };
    seen = read() ?? -1;
    if (seen < 0) return;
    this.o.metrics.beforeDroppedScrape.push(() => {
      if (!this.socket) return;
      const now = read();
      if (now !== null && now > seen) {
        this.o.metrics.dropped.inc({ transport: 'udp', reason: 'socket_overflow' }, now - seen);
        seen = now;
      }
      this.publishCounts();
    });
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
    this.flush();
    await Promise.allSettled([...this.pending]);
  }

  private drop(reason: string, n = 1): void {
    this.dropCounts.set(reason, (this.dropCounts.get(reason) ?? 0) + n);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private publishCounts(): void {
    const m = this.o.metrics;
    if (this.receivedCount > 0) m.received.inc({ transport: 'udp' }, this.receivedCount);
    this.receivedCount = 0;
    for (const [reason, n] of this.dropCounts) m.dropped.inc({ transport: 'udp', reason }, n);
    this.dropCounts.clear();
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const limiter = this.o.limiter;
    if (!limiter) {
      this.parse(msg);
      return;
    }
    // Decisions resolve in call order, so datagrams from one source keep their order.
    limiter.consume(rinfo.address).then((d) => {
      if (d.allowed) this.parse(msg);
      else {
        this.o.blocked?.record(rinfo.address, 'udp');
        this.drop('rate_limited', countLines(msg));
      }
    });
  }

  private parse(msg: Buffer): void {
    const o = this.o;
    if (msg.length > o.maxDatagramBytes) {
      this.receivedCount++;
      this.drop('datagram_too_large');
      return;
    }
    if (!isUtf8(msg)) {
      const n = countLines(msg);
      this.receivedCount += n;
      this.drop('invalid_utf8', n);
      return;
    }
    const text = msg.toString('utf8');
    let from = 0;
    let lines = 0;
    for (;;) {
      const at = text.indexOf('\n', from);
      const line = at === -1 ? text.slice(from) : text.slice(from, at);
      if (line.trim().length > 0) {
        lines++;
        if (line.length * 3 > o.maxLineBytes && Buffer.byteLength(line) > o.maxLineBytes) this.drop('line_too_large');
        else {
          const a = acceptLine(line, o.resolveSession);
          if (isRejection(a)) this.drop(a.reason);
          else {
            this.batch.push(a);
            this.batchBytes += line.length;
          }
        }
      }
      if (at === -1) break;
      from = at + 1;
    }
    this.receivedCount += lines;
    if (this.batch.length >= o.batchEvents) this.publishBatch();
    this.schedule();
  }

  private flush(): void {
    this.flushScheduled = false;
    this.publishCounts();
    this.publishBatch();
  }

  private publishBatch(): void {
    if (this.batch.length === 0) return;
    const events = this.batch;
    const n = events.length;
    this.batch = [];
    const bytes = this.batchBytes;
    this.batchBytes = 0;
    const p = this.o.queue.publish(events, bytes).then(
      (c) => this.o.metrics.accepted.inc({ transport: 'udp' }, n - (c.duplicates?.length ?? 0)),
      (err: unknown) => {
        const reason =
          err instanceof LogsrvError && err.code === 'LOGSRV_ERR_QUEUE_FULL'
            ? 'queue_full'
            : err instanceof LogsrvError && err.code === 'LOGSRV_ERR_SHUTTING_DOWN'
              ? 'shutting_down'
              : 'store_error';
        this.o.metrics.dropped.inc({ transport: 'udp', reason }, n);
      },
    );
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }
}

/** Events a datagram claimed to hold, for drop accounting: its non-blank lines (at least 1). */
function countLines(msg: Buffer): number {
  let n = 0;
  let start = 0;
  for (;;) {
    const at = msg.indexOf(0x0a, start);
    const end = at === -1 ? msg.length : at;
    for (let i = start; i < end; i++) {
      const b = msg[i] as number;
      if (b !== 0x20 && b !== 0x09 && b !== 0x0d) {
        n++;
        break;
      }
    }
    if (at === -1) break;
    start = at + 1;
  }
  return Math.max(n, 1);
}
