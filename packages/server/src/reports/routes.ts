/** `GET /v1/reports/...` (SPEC §3, §7). */
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance } from 'fastify';
import type { Query } from '../query/params.js';
import { str } from '../query/params.js';
import type { Store } from '../store/store.js';
import type { BlockedSources } from './blocked-sources.js';
import { MAX_WINDOW_MS } from './blocked-sources.js';
import { registerHealthReports } from './health.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `15m`, `1h`, `1d` → ms. */
export function parseWindow(text: string | undefined, dflt: number): number {
  if (text === undefined || text === '') return dflt;
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  const ms = m ? Number(m[1]) * (UNITS[m[2] as string] as number) : Number.NaN;
  if (!(ms > 0) || ms > MAX_WINDOW_MS) {
    throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter 'window' must be a duration like 15m, 1h or 24h, at most 24h, got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** The blocked-sources report always; the health reports where a store is read (the reader module). */
export function registerReports(app: FastifyInstance, blocked: BlockedSources, rateLimit: number, store?: Store): void {
  if (store) registerHealthReports(app, store);
  app.get('/v1/reports/blocked', async (req) => {
    const q = req.query as Query;
    const window = str(q, 'window', 16) ?? '1h';
    const ms = parseWindow(window, 3_600_000);
    return { window, rateLimitPerSecond: rateLimit, sources: blocked.list(ms) };
  });
}
