/** The fastify application: error mapping, health, metrics, and the routes of each component. */
import { ErrorCodes, LogsrvError } from '@logsrv/protocol';
import type { FastifyError, FastifyInstance } from 'fastify';
import Fastify, { LogController } from 'fastify';
import type { HttpAuth } from '../auth/index.js';
import type { HttpIngestOptions } from '../ingest/http-ingest.js';
import { registerHttpIngest } from '../ingest/http-ingest.js';
import { registerShipperRoutes, type ShipperSessions } from '../ingest/shippers.js';
import type { SourceLimiter } from '../limits/rate-limit.js';
import type { Metrics } from '../metrics.js';
import { registerEventSearch } from '../query/events-search.js';
import { registerSessionEvents } from '../query/session-events.js';
import { registerSessionList } from '../query/sessions.js';
import type { SessionRegistry } from '../registry/index.js';
import { registerRegistryRoutes } from '../registry/index.js';
import type { BlockedSources } from '../reports/blocked-sources.js';
import { registerReports } from '../reports/routes.js';
import type { Store } from '../store/store.js';
import type { TailHub } from '../tail/index.js';
import { registerTailRoutes } from '../tail/index.js';
import { idleTimerOffWhileAnswering } from './answer-timer.js';
import { registerWebUi } from './home.js';
import { registerRateLimit } from './rate-limit-hook.js';

export interface AppDeps {
  /** The read routes (queries, sessions) are registered when given (the reader module). */
  store?: Store | undefined;
  metrics: Metrics;
  /** The live hub; tail routes are registered when given. */
  tails?: TailHub | undefined;
  /** Where tails read history: the primary store (a replica may lag behind the hub's watermark). Default: `store`. */
  tailStore?: Store | undefined;
  /** `POST /v1/events` is registered when given (the receiver module). */
  ingest?: HttpIngestOptions | undefined;
  /** Session templates of the shippers' HTTP protocols (OTLP, Loki, Elasticsearch); defaults when absent. */
  shippers?: ShipperSessions;
  /** Per-source limit; absent when `--rate-limit` is 0. */
  limiter?: SourceLimiter | undefined;
  blocked: BlockedSources;
  /** The session registry; `PUT /v1/sessions/:session` is registered when given. */
  registry?: SessionRegistry | undefined;
  /** Bearer tokens and scopes; every route is open when absent. */
  auth?: HttpAuth | undefined;
  rateLimit: number;
  /** Connection limits against slow and greedy clients. */
  connections: { headersTimeoutMs: number; idleTimeoutMs: number; maxPerIp: number };
  logLevel: string;
  /** The built web UI (`packages/web/dist` by default); `/` explains how to build it when missing. */
  webRoot?: string | undefined;
  health: () => Record<string, unknown>;
}

function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { error: { code, message }, ...(details ?? {}) };
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: {
      level: deps.logLevel,
      // Never log credentials or whole query strings that may carry them.
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    // Bodies are streamed by the ingest route itself; this only bounds other routes.
    bodyLimit: 1024 * 1024,
    // A session name is up to 256 characters (SPEC §1), up to 2,304 bytes once percent-encoded;
    // fastify's default (100) answered 414 to valid `/v1/sessions/:session/...` paths.
    routerOptions: { maxParamLength: 4096 },
    http: {
      maxHeaderSize: 16 * 1024,
      headersTimeout: deps.connections.headersTimeoutMs,
      // No cap on a whole request: an NDJSON upload may stream for a long time; a stalled one
      // hits the idle timeout instead.
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1000, deps.connections.headersTimeoutMs),
    },
    connectionTimeout: deps.connections.idleTimeoutMs,
    // Requests that arrive while closing get our own 503 (with Retry-After), below.
    return503OnClosing: false,
    // Per-request log lines would cost more than ingest itself at 100k events/s.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.setErrorHandler((err: FastifyError | LogsrvError, req, reply) => {
    if (err instanceof LogsrvError) {
      if (err.status === 503) reply.header('retry-after', '1');
      if (err.status >= 500) req.log.error({ err }, 'request failed');
      return reply.code(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return reply.code(500).send(errorBody('LOGSRV_ERR_INTERNAL', ErrorCodes.LOGSRV_ERR_INTERNAL.text));
    }
    const code = status === 413 ? 'LOGSRV_ERR_BODY_TOO_LARGE' : status === 415 ? 'LOGSRV_ERR_UNSUPPORTED_MEDIA_TYPE' : 'LOGSRV_ERR_BAD_PARAM';
    return reply.code(status).send(errorBody(code, err.message));
  });

  if (deps.connections.maxPerIp > 0) limitConnectionsPerIp(app, deps.connections.maxPerIp);
  idleTimerOffWhileAnswering(app, deps.connections.idleTimeoutMs, (url) => url.endsWith('/tail'));

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_req, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      throw new LogsrvError('LOGSRV_ERR_SHUTTING_DOWN', 'server is shutting down: retry shortly');
    }
  });

  // Rate limits first, so a flood of bad tokens is limited too.
  if (deps.limiter) registerRateLimit(app, deps.limiter, deps.blocked, deps.rateLimit);
  deps.auth?.register(app);
  registerReports(app, deps.blocked, deps.rateLimit, deps.store);

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('LOGSRV_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  app.get('/healthz', async () => ({ status: 'ok', ...deps.health() }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  registerWebUi(app, deps.webRoot);

  if (deps.ingest) {
    registerHttpIngest(app, deps.ingest);
    registerShipperRoutes(app, deps.ingest, deps.shippers);
  }
  if (deps.store) {
    registerSessionEvents(app, deps.store);
    registerEventSearch(app, deps.store);
    registerSessionList(app, deps.store);
    if (deps.tails) registerTailRoutes(app, { hub: deps.tails, store: deps.tailStore ?? deps.store });
  }
  if (deps.registry) registerRegistryRoutes(app, deps.registry);
  return app;
}

/** Closes connections past `max` per source address as they arrive, before any request is read. */
function limitConnectionsPerIp(app: FastifyInstance, max: number): void {
  const open = new Map<string, number>();
  app.server.on('connection', (socket: import('node:net').Socket) => {
    const ip = socket.remoteAddress ?? '';
    const n = (open.get(ip) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(ip, n);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left <= 0) open.delete(ip);
      else open.set(ip, left);
    });
  });
}
