/**
 * The syslog receivers (`--syslog-udp`, `--syslog-tcp`), started and stopped together by the
 * composition root. UDP reuses the JSON UDP port's receive thread (`udp-worker.ts`, format
 * `syslog`): the socket is read and every datagram parsed off the main thread.
 */
import type { ServerConfig } from '../../config.js';
import type { Metrics } from '../../metrics.js';
import type { Queue } from '../../queue/queue.js';
import type { BlockedSources } from '../../reports/blocked-sources.js';
import type { SessionResolver } from '../accept.js';
import { UdpIngest } from '../udp-ingest.js';
import { SyslogTcp } from './syslog-tcp.js';

export { parseSyslog, type SyslogMessage } from './parse-syslog.js';

export interface SyslogReceivers {
  udpPort: number | null;
  tcpPort: number | null;
  close(): Promise<void>;
}

export interface SyslogDeps {
  queue: Queue;
  metrics: Metrics;
  blocked: BlockedSources;
  resolveSession: SessionResolver;
  warn: (msg: string) => void;
}

/** Starts what the config turns on; on failure stops what did start and throws, the error's `where` naming the address. */
export async function startSyslog(config: ServerConfig, d: SyslogDeps): Promise<SyslogReceivers> {
  const udp =
    config.syslogUdpHost === null
      ? null
      : new UdpIngest({
          host: config.syslogUdpHost,
          port: config.syslogUdpPort,
          recvBufferBytes: config.udpRecvBufferBytes,
          reader: config.udpReader,
          maxDatagramBytes: config.maxDatagramBytes,
          maxLineBytes: config.maxLineBytes,
          batchEvents: config.requestBatchEvents,
          queue: d.queue,
          metrics: d.metrics,
          rateLimit: config.rateLimit > 0 ? { perSecond: config.rateLimit, burst: config.rateLimitBurst || 2 * config.rateLimit } : undefined,
          blocked: d.blocked,
          resolveSession: d.resolveSession,
          warn: d.warn,
          format: 'syslog',
          syslogSession: config.syslogSession,
          transport: 'syslog',
        });
  const tcp =
    config.syslogTcpHost === null
      ? null
      : new SyslogTcp({
          host: config.syslogTcpHost,
          port: config.syslogTcpPort,
          maxFrameBytes: config.maxLineBytes,
          batchEvents: config.requestBatchEvents,
          queueWaitMs: 30_000,
          session: config.syslogSession,
          queue: d.queue,
          metrics: d.metrics,
          resolveSession: d.resolveSession,
          warn: d.warn,
          maxConnectionsPerIp: config.maxConnectionsPerIp,
        });
  const close = async () => {
    await Promise.all([udp?.close(), tcp?.close()]);
  };
  let udpPort: number | null = null;
  try {
    udpPort = udp ? await udp.start() : null;
  } catch (err) {
    await close().catch(() => {});
    throw Object.assign(err as Error, { where: `syslog UDP ${config.syslogUdpHost}:${config.syslogUdpPort}` });
  }
  let tcpPort: number | null = null;
  try {
    tcpPort = tcp ? await tcp.start() : null;
  } catch (err) {
    await close().catch(() => {});
    throw Object.assign(err as Error, { where: `syslog TCP ${config.syslogTcpHost}:${config.syslogTcpPort}` });
  }
  return { udpPort, tcpPort, close };
}
