/**
 * The composition root: assembles the modules the configured role runs (as Loki's `-target`
 * does) on the engines picked from config (compose/engines.ts). Only this file and engines.ts
 * know which Queue and Store implementations run; lifecycle (the stop order, listen failures)
 * lives in lifecycle.ts.
 *
 * Modules: `receiver` (HTTP and UDP ingest → queue), `writer` (queue → store), `reader` (queries,
 * tails, reports, the web UI). `--role all` runs the three in one process.
 */
import type { FastifyInstance } from 'fastify';
import { HttpAuth } from './auth/index.js';
import type { Engines, Module } from './compose/engines.js';
import { openEngines } from './compose/engines.js';
import type { ServerConfig } from './config.js';
import { ConfigError } from './config.js';
import { DiskGuard, openDataDir } from './data-dir/index.js';
import { buildApp } from './http/app.js';
import { type SyslogReceivers, startSyslog } from './ingest/syslog/index.js';
import { UdpIngest } from './ingest/udp-ingest.js';
import { isLoopback, Lifecycle, listenFailure, StartError } from './lifecycle.js';
import { createMemoryEventQuota, createRedisEventQuota } from './limits/event-quota.js';
import { createMemoryLimiter, createRedisLimiter } from './limits/rate-limit.js';
import { createMetrics } from './metrics.js';
import type { Queue } from './queue/queue.js';
import type { LogsrvRedis } from './queue/redis/connect.js';
import { openRedis } from './queue/redis/connect.js';
import { SessionRegistry } from './registry/index.js';
import { RegistrySync } from './registry/registry-sync.js';
import { BlockedSources } from './reports/blocked-sources.js';
import type { Retention } from './store/retention.js';
import { startRetention } from './store/retention.js';
import type { Store } from './store/store.js';
import { TailHub } from './tail/index.js';
import { Writer } from './writer/writer.js';

export { StartError } from './lifecycle.js';

export interface StartOptions {
  /** Epoch-ms clock for ids and day partitions; tests inject one to cross midnight. */
  clock?: () => number;
}

export interface RunningServer {
  /** `http://host:port` the server listens on. */
  url: string;
  /** Whether requests need tokens (the data dir has a token file with tokens). */
  authEnabled: boolean;
  /** The bound UDP port, or null when UDP is off. */
  udpPort: number | null;
  /** The bound syslog ports, or null when off (`--syslog-udp`, `--syslog-tcp`). */
  syslogUdpPort: number | null;
  syslogTcpPort: number | null;
  app: FastifyInstance;
  store: Store;
  /** Null in a reader-only process. */
  queue: Queue | null;
  /** Stops accepting, answers in-flight requests, commits everything queued, closes the store. */
  close(): Promise<void>;
}

const ROLE_MODULES: Record<ServerConfig['role'], readonly Module[]> = {
  all: ['receiver', 'writer', 'reader'],
  receiver: ['receiver'],
  writer: ['writer'],
  reader: ['reader'],
};

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const clock = opts.clock ?? Date.now;
  const modules = new Set(ROLE_MODULES[config.role]);
  // Secure defaults (SPEC §7): before anything else starts, refuse an open server off loopback.
  let authWarn: (msg: string) => void = (msg) => process.stderr.write(`${msg}\n`);
  const auth = new HttpAuth(config.dataDir, (msg) => authWarn(msg));
  checkExposure(config, auth.enabled);
  // A writable directory; locked against a second server when it holds the embedded store's files.
  const dataDir = openDataDir(config.dataDir, { lock: config.store === 'sqlite' });
  let engines: Engines;
  try {
    engines = await openEngines(config, clock, modules, (msg) => (app ? app.log.warn(msg) : process.stderr.write(`${msg}\n`)));
  } catch (err) {
    dataDir.release();
    throw err;
  }
  const { store, queue } = engines;
  const metrics = createMetrics({
    queueDepth: () => queue?.depth ?? 0,
    searchIndexLagRows: () => store.searchIndexLagRows?.() ?? 0,
    sessionChunksLagRows: () => store.sessionChunksLagRows?.() ?? 0,
    searchIndexWaitSeconds: () => store.searchIndexWaitSeconds?.() ?? 0,
  });
  const receiver = modules.has('receiver') && queue !== null;
  // Enrichment (SPEC §5) resolves sessions from this cache on the receiving thread.
  const registry = new SessionRegistry(store, clock);
  let registrySync: RegistrySync | null = null;
  if (receiver) {
    await registry.load();
    if (engines.redisUrl) registrySync = await RegistrySync.start(engines.redisUrl, registry, store);
  }
  const tails =
    modules.has('reader') && engines.feed
      ? new TailHub({
          maxClients: config.maxTailClients,
          clientBufferBytes: config.tailClientBufferBytes,
          heartbeatMs: config.tailHeartbeatMs,
          lastId: engines.lastId,
          feed: engines.feed,
          registry: metrics.registry,
        })
      : undefined;

  const burst = config.rateLimitBurst || 2 * config.rateLimit;
  // Limits and token quotas shared by a deployment's receivers live in Redis.
  const limiterRedis: LogsrvRedis | null = engines.redisUrl && receiver ? await openRedis(engines.redisUrl, { name: 'logsrv-limits' }) : null;
  const quota = limiterRedis ? createRedisEventQuota(limiterRedis) : createMemoryEventQuota();
  const limiter =
    config.rateLimit > 0
      ? limiterRedis
        ? createRedisLimiter(limiterRedis, config.rateLimit, burst)
        : createMemoryLimiter(config.rateLimit, burst)
      : undefined;
  const blocked = new BlockedSources();
  let app: FastifyInstance | undefined;
  authWarn = (msg) => (app ? app.log.warn(msg) : process.stderr.write(`${msg}\n`));
  const writer =
    modules.has('writer') && queue
      ? new Writer(queue, store, {
          maxBatchEvents: config.maxBatchEvents,
          pressedDepth: Math.max(1, Math.floor(config.maxQueueEvents / 4)),
          onError: (err) => app?.log.error({ err }, 'write failed'),
          onBatch: (n, s) => {
            metrics.batchEvents.observe(n);
            metrics.batchSeconds.observe(s);
          },
        })
      : null;
  writer?.start();

  app = buildApp({
    store: modules.has('reader') ? engines.readStore : undefined,
    tailStore: store,
    metrics,
    tails,
    limiter,
    blocked,
    auth,
    registry: receiver ? registry : undefined,
    rateLimit: config.rateLimit,
    connections: { headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs, maxPerIp: config.maxConnectionsPerIp },
    logLevel: config.logLevel,
    health: () => ({
      role: config.role,
      queueDepth: queue?.depth ?? 0,
      searchIndexLagRows: store.searchIndexLagRows?.() ?? 0,
      sessionChunksLagRows: store.sessionChunksLagRows?.() ?? 0,
    }),
    ingest: receiver
      ? {
          queue,
          metrics,
          resolveSession: registry.resolve,
          maxBodyBytes: config.maxBodyBytes,
          maxJsonBodyBytes: config.maxJsonBodyBytes,
          maxLineBytes: config.maxLineBytes,
          requestBatchEvents: config.requestBatchEvents,
          maxRejectedReported: 1000,
          queueWaitMs: 30_000,
          quota,
          blocked,
          // Free space guards the embedded store's files; PostgreSQL reports its own full disk.
          disk: config.store === 'sqlite' ? new DiskGuard(config.dataDir, config.minFreeDiskBytes) : undefined,
        }
      : undefined,
    shippers: { otlp: config.otlpSession, loki: config.lokiSession, elasticsearch: config.elasticsearchSession },
  });
  const udp =
    !receiver || !queue || config.udpHost === null
      ? null
      : new UdpIngest({
          host: config.udpHost,
          port: config.udpPort,
          recvBufferBytes: config.udpRecvBufferBytes,
          reader: config.udpReader,
          maxDatagramBytes: config.maxDatagramBytes,
          maxLineBytes: config.maxLineBytes,
          batchEvents: config.requestBatchEvents,
          queue,
          metrics,
          rateLimit: config.rateLimit > 0 ? { perSecond: config.rateLimit, burst: config.rateLimitBurst || 2 * config.rateLimit } : undefined,
          blocked,
          resolveSession: registry.resolve,
          warn: (msg) => app?.log.warn(msg),
        });
  auth.watch();
  let retention: Retention | null = null;

  // Stop order: no new requests; in-flight ones finish (their batches commit); then the queue
  // closes, the writer drains it, and only then the engines close. Tails first: they never end
  // by themselves, and their clients resume after a restart.
  let syslog: SyslogReceivers | null = null;
  const life = new Lifecycle();
  life.onStop('auth', () => auth.stop());
  life.onStop('retention', () => retention?.stop());
  life.onStop('tails', () => tails?.close());
  life.onStop('udp', () => udp?.close());
  life.onStop('syslog', () => syslog?.close());
  life.onStop('http', () => app.close());
  life.onStop('registry sync', () => registrySync?.stop());
  life.onStop('rate limits', () => limiterRedis?.disconnect());
  life.onStop('queue', () => queue?.close());
  life.onStop('writer', () => writer?.drained());
  life.onStop('engines', () => engines.close());
  life.onStop('data dir', () => dataDir.release());
  let udpPort: number | null = null;
  let where = `HTTP ${config.httpHost}:${config.httpPort}`;
  try {
    if (udp) where = `UDP ${config.udpHost}:${config.udpPort}`;
    udpPort = udp ? await udp.start() : null;
    where = 'syslog';
    syslog =
      receiver && queue ? await startSyslog(config, { queue, metrics, blocked, resolveSession: registry.resolve, warn: (msg) => app?.log.warn(msg) }) : null;
    where = `HTTP ${config.httpHost}:${config.httpPort}`;
    await app.listen({ host: config.httpHost, port: config.httpPort });
  } catch (err) {
    // Nothing was served yet: stop what did start, then say which address could not be had.
    await life.stop().catch(() => {});
    throw new StartError(listenFailure(err, where === 'syslog' ? ((err as { where?: string }).where ?? where) : where));
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  const host = config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost;

  if (config.retentionDays > 0 && modules.has('writer')) {
    retention = startRetention({
      store,
      days: config.retentionDays,
      clock,
      info: (msg, days) => app.log.info({ archived: days }, msg),
      warn: (msg) => app.log.warn(msg),
    });
  }

  return {
    url: `http://${host}:${port}`,
    udpPort,
    syslogUdpPort: syslog?.udpPort ?? null,
    syslogTcpPort: syslog?.tcpPort ?? null,
    authEnabled: auth.enabled,
    app,
    store,
    queue,
    close: () => life.stop(),
  };
}

/** Refuses an open server off loopback (SPEC §7) unless --insecure. */
function checkExposure(config: ServerConfig, authEnabled: boolean): void {
  if (config.insecure) return;
  if (!authEnabled && !isLoopback(config.httpHost)) {
    throw new ConfigError(
      `refusing to listen on ${config.httpHost} without tokens: anyone who can connect could read every log. Create one with \`logsrv token create --scope admin --data ${config.dataDir}\`, or pass --insecure`,
    );
  }
  if (config.udpHost !== null && !isLoopback(config.udpHost)) {
    throw new ConfigError(
      `refusing UDP on ${config.udpHost}: datagrams carry no token, so anyone who can reach it could write. Bind UDP to loopback, turn it off (--udp off), or pass --insecure`,
    );
  }
  for (const [flag, host] of [
    ['--syslog-udp', config.syslogUdpHost],
    ['--syslog-tcp', config.syslogTcpHost],
  ] as const) {
    if (host !== null && !isLoopback(host)) {
      throw new ConfigError(
        `refusing syslog on ${host} (${flag}): syslog carries no token, so anyone who can reach it could write. Bind it to loopback or pass --insecure`,
      );
    }
  }
}
