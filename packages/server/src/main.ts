/**
 * The composition root: the only place that knows which Queue and Store implementations run.
 * Everything else sees the interfaces.
 */
import type { FastifyInstance } from 'fastify';
import { HttpAuth } from './auth/index.js';
import type { ServerConfig } from './config.js';
import { ConfigError } from './config.js';
import { DiskGuard, openDataDir } from './data-dir/index.js';
import { buildApp } from './http/app.js';
import { UdpIngest } from './ingest/udp-ingest.js';
import { createMemoryEventQuota } from './limits/event-quota.js';
import { createMemoryLimiter } from './limits/rate-limit.js';
import { createMetrics } from './metrics.js';
import { MemoryQueue } from './queue/memory-queue.js';
import type { Queue } from './queue/queue.js';
import { SessionRegistry } from './registry/index.js';
import { BlockedSources } from './reports/blocked-sources.js';
import type { Retention } from './store/retention.js';
import { startRetention } from './store/retention.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/store.js';
import { TailHub } from './tail/index.js';
import { Writer } from './writer/writer.js';

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
  app: FastifyInstance;
  store: Store;
  queue: Queue;
  /** Stops accepting, answers in-flight requests, commits everything queued, closes the store. */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, opts: StartOptions = {}): Promise<RunningServer> {
  const clock = opts.clock ?? Date.now;
  // Secure defaults (SPEC §7): before anything else starts, refuse an open server off loopback.
  let authWarn: (msg: string) => void = (msg) => process.stderr.write(`${msg}\n`);
  const auth = new HttpAuth(config.dataDir, (msg) => authWarn(msg));
  if (!config.insecure) {
    if (!auth.enabled && !isLoopback(config.httpHost)) {
      throw new ConfigError(
        `refusing to listen on ${config.httpHost} without tokens: anyone who can connect could read every log. Create one with \`logsrv token create --scope admin --data ${config.dataDir}\`, or pass --insecure`,
      );
    }
    if (config.udpHost !== null && !isLoopback(config.udpHost)) {
      throw new ConfigError(
        `refusing UDP on ${config.udpHost}: datagrams carry no token, so anyone who can reach it could write. Bind UDP to loopback, turn it off (--udp off), or pass --insecure`,
      );
    }
  }
  const dataDir = openDataDir(config.dataDir); // a writable directory, locked against a second server (data-dir/)
  const store: Store = new SqliteStore({
    dataDir: config.dataDir,
    readerThreads: config.readerThreads,
    synchronous: config.sqliteSynchronous,
    searchIndex: config.searchIndex === 'on',
    searchChunkRows: config.searchChunkRows,
  });
  const queue: Queue = new MemoryQueue({ maxEvents: config.maxQueueEvents, maxBytes: config.maxQueueBytes });
  const metrics = createMetrics(() => queue.depth);
  // Recovers the last id now, so a broken data dir fails at start rather than on first write.
  const lastId = await store.lastId();
  // Enrichment (SPEC §5) resolves sessions from this cache on the receiving thread.
  const registry = new SessionRegistry(store, clock);
  await registry.load();
  const tails = new TailHub({
    maxClients: config.maxTailClients,
    clientBufferBytes: config.tailClientBufferBytes,
    heartbeatMs: config.tailHeartbeatMs,
    lastId,
    registry: metrics.registry,
  });

  const limiter = config.rateLimit > 0 ? createMemoryLimiter(config.rateLimit, config.rateLimitBurst || 2 * config.rateLimit) : undefined;
  const blocked = new BlockedSources();
  let app: FastifyInstance | undefined;
  authWarn = (msg) => (app ? app.log.warn(msg) : process.stderr.write(`${msg}\n`));
  const writer = new Writer(queue, store, {
    maxBatchEvents: config.maxBatchEvents,
    clock,
    onError: (err) => app?.log.error({ err }, 'write failed'),
    onCommit: tails.onCommit,
    onBatch: (n, s) => {
      metrics.batchEvents.observe(n);
      metrics.batchSeconds.observe(s);
    },
  });
  writer.start();

  app = buildApp({
    store,
    metrics,
    tails,
    limiter,
    blocked,
    auth,
    registry,
    rateLimit: config.rateLimit,
    connections: { headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs, maxPerIp: config.maxConnectionsPerIp },
    logLevel: config.logLevel,
    health: () => ({ queueDepth: queue.depth }),
    ingest: {
      queue,
      metrics,
      resolveSession: registry.resolve,
      maxBodyBytes: config.maxBodyBytes,
      maxJsonBodyBytes: config.maxJsonBodyBytes,
      maxLineBytes: config.maxLineBytes,
      requestBatchEvents: config.requestBatchEvents,
      maxRejectedReported: 1000,
      queueWaitMs: 30_000,
      quota: createMemoryEventQuota(),
      blocked,
      disk: new DiskGuard(config.dataDir, config.minFreeDiskBytes),
    },
  });
  const udp =
    config.udpHost === null
      ? null
      : new UdpIngest({
          host: config.udpHost,
          port: config.udpPort,
          recvBufferBytes: config.udpRecvBufferBytes,
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
  // Order matters: no new requests; in-flight ones finish (their batches commit); then the queue
  // closes, the writer drains it, and only then the store closes. Tails first: they never end by
  // themselves, and their clients resume after a restart.
  const stop = async () => {
    auth.stop();
    await retention?.stop();
    await tails.close();
    await udp?.close();
    await app.close();
    queue.close();
    await writer.drained();
    await store.close();
    dataDir.release();
  };
  let udpPort: number | null = null;
  try {
    udpPort = udp ? await udp.start() : null;
    await app.listen({ host: config.httpHost, port: config.httpPort });
  } catch (err) {
    // Nothing was served yet: stop what did start, then say which address could not be had.
    await stop().catch(() => {});
    throw new StartError(
      listenFailure(err, udp !== null && udpPort === null ? `UDP ${config.udpHost}:${config.udpPort}` : `HTTP ${config.httpHost}:${config.httpPort}`),
    );
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  const host = config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost;

  if (config.retentionDays > 0) {
    retention = startRetention({
      store,
      days: config.retentionDays,
      clock,
      info: (msg, days) => app.log.info({ archived: days }, msg),
      warn: (msg) => app.log.warn(msg),
    });
  }

  let closing: Promise<void> | null = null;
  const running: RunningServer = {
    url: `http://${host}:${port}`,
    udpPort,
    authEnabled: auth.enabled,
    app,
    store,
    queue,
    close() {
      closing ??= stop();
      return closing;
    },
  };
  return running;
}

/** The server could not start for a reason of its environment (an address in use, say): exit 1. */
export class StartError extends Error {
  override name = 'StartError';
}

function listenFailure(err: unknown, what: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE' || /EADDRINUSE/.test(String((err as Error)?.message)))
    return `cannot listen on ${what}: the address is in use (another logsrv?); pick another with --http/--udp`;
  if (code === 'EACCES' || /EACCES/.test(String((err as Error)?.message)))
    return `cannot listen on ${what}: permission denied (ports below 1024 need privileges)`;
  return `cannot listen on ${what}: ${(err as Error)?.message ?? String(err)}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
