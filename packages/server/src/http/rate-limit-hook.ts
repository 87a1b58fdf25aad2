/** Applies the per-source limit to every HTTP request except health and metrics scrapes. */
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance } from 'fastify';
import type { SourceLimiter } from '../limits/rate-limit.js';
import type { BlockedSources } from '../reports/blocked-sources.js';

const EXEMPT = new Set(['/healthz', '/metrics']);

export function registerRateLimit(app: FastifyInstance, limiter: SourceLimiter, blocked: BlockedSources, perSecond: number): void {
  app.addHook('onRequest', async (req, reply) => {
    if (EXEMPT.has(req.url.split('?', 1)[0] as string)) return;
    const d = await limiter.consume(req.ip);
    if (d.allowed) return;
    blocked.record(req.ip, 'http');
    reply.header('retry-after', String(Math.ceil(d.retryAfterMs / 1000)));
    throw new LogsrvError(
      'LOGSRV_ERR_RATE_LIMITED',
      `too many requests from ${req.ip}: limit ${perSecond}/s (--rate-limit); retry after ${Math.ceil(d.retryAfterMs / 1000)} s`,
    );
  });
}
