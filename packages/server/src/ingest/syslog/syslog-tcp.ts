/**
 * Syslog over TCP (`serve --syslog-tcp HOST:PORT`; RFC 6587 framing, see frame-tcp.ts). Syslog
 * has no acknowledgement, so nothing is answered; what is not stored is counted in
 * `logsrv_dropped_total{transport="syslog",reason}`.
 *
 * Flow control instead of loss: each connection has at most {@link MAX_IN_FLIGHT} batches waiting
 * for their commit; past that its socket is paused, so a fast sender is slowed by TCP itself (as
 * rsyslog's own queues expect) rather than dropped. A full queue is retried for `queueWaitMs`
 * before the batch is dropped as `queue_full`.
 *
 * Frames are parsed on the main thread as they arrive: a read is at most 64 KiB, so the work per
 * turn of the event loop is small and bounded (unlike UDP, nothing is lost while it runs — the
 * kernel keeps TCP data and slows the sender).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { NormalizedEvent } from '@logsrv/protocol';
import { LogsrvError } from '@logsrv/protocol';
import type { Metrics } from '../../metrics.js';
import type { Queue } from '../../queue/queue.js';
import type { SessionResolver } from '../accept.js';
import { acceptValue, isRejection } from '../accept.js';
import { SessionTemplate } from '../session-template.js';
import { publishWaiting } from '../shipper-ingest.js';
import { SyslogFramer } from './frame-tcp.js';
import { parseSyslog } from './parse-syslog.js';
import { syslogCandidate } from './to-event.js';

const MAX_IN_FLIGHT = 4;

export interface SyslogTcpOptions {
  host: string;
  port: number;
  maxFrameBytes: number;
  batchEvents: number;
  queueWaitMs: number;
  session: string;
  queue: Queue;
  metrics: Metrics;
  resolveSession?: SessionResolver | undefined;
  warn: (msg: string) => void;
  /** Open connections one source address may hold (`--max-connections-per-ip`; 0: no limit); more are closed at once and counted. */
  maxConnectionsPerIp?: number;
}

export class SyslogTcp {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly perIp = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly template: SessionTemplate;

  constructor(private readonly o: SyslogTcpOptions) {
    this.template = new SessionTemplate(o.session);
  }

  start(): Promise<number> {
    const server = createServer((socket) => this.connection(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.o.warn(`syslog TCP: ${err.message}`));
        resolve((server.address() as import('node:net').AddressInfo).port);
      });
    });
  }

  /** Stops accepting, ends every connection (what was read is still stored), waits for the commits. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.end();
    const deadline = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 2000);
    await closed;
    clearTimeout(deadline);
    await Promise.allSettled([...this.pending]);
  }

  private connection(socket: Socket): void {
    const o = this.o;
    const peer = socket.remoteAddress;
    const ip = peer ?? '';
    const open = (this.perIp.get(ip) ?? 0) + 1;
    if (o.maxConnectionsPerIp && open > o.maxConnectionsPerIp) {
      o.metrics.dropped.inc({ transport: 'syslog', reason: 'too_many_connections' });
      socket.destroy();
      return;
    }
    this.perIp.set(ip, open);
    this.sockets.add(socket);
    let batch: NormalizedEvent[] = [];
    let bytes = 0;
    let inFlight = 0;
    const drop = (reason: string, n = 1) => o.metrics.dropped.inc({ transport: 'syslog', reason }, n);
    const framer = new SyslogFramer(
      o.maxFrameBytes,
      (frame) => {
        o.metrics.received.inc({ transport: 'syslog' });
        const m = parseSyslog(frame.toString('utf8'));
        if ('error' in m) return drop('invalid_syslog');
        const c = syslogCandidate(m, this.template, peer);
        const a = acceptValue(c.event, (u, t) => o.resolveSession?.(u, t) ?? c.fallback);
        if (isRejection(a)) return drop(a.reason);
        batch.push(a);
        bytes += a.value.length + (a.attrs?.length ?? 0);
        if (batch.length >= o.batchEvents) flush();
      },
      (why) => {
        o.metrics.received.inc({ transport: 'syslog' });
        drop(why === 'too_large' ? 'line_too_large' : 'invalid_syslog');
      },
    );
    const flush = () => {
      if (batch.length === 0) return;
      const events = batch;
      const n = bytes;
      batch = [];
      bytes = 0;
      inFlight++;
      if (inFlight >= MAX_IN_FLIGHT) socket.pause();
      const p = publishWaiting(o.queue, events, n, o.queueWaitMs).then(
        (dups) => {
          o.metrics.accepted.inc({ transport: 'syslog' }, events.length - dups);
          if (dups > 0) o.metrics.duplicates.inc({ transport: 'syslog' }, dups);
        },
        (err: unknown) => {
          const code = err instanceof LogsrvError ? err.code : '';
          drop(code === 'LOGSRV_ERR_QUEUE_FULL' ? 'queue_full' : code === 'LOGSRV_ERR_SHUTTING_DOWN' ? 'shutting_down' : 'store_error', events.length);
        },
      );
      this.pending.add(p);
      p.finally(() => {
        this.pending.delete(p);
        inFlight--;
        if (inFlight < MAX_IN_FLIGHT && !socket.destroyed) socket.resume();
      });
    };
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      flush();
    });
    socket.on('end', () => {
      framer.end();
      flush();
      socket.end();
    });
    socket.on('error', () => {}); // a reset by the peer: what was read is still stored
    socket.on('close', () => {
      this.sockets.delete(socket);
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
  }
}
