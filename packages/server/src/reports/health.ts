/**
 * The health reports (`GET /v1/reports/components|keys|stats`): bodies built from the store's
 * rollups (store/rollups.ts) over a window of whole minutes. Never from raw events.
 */
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance } from 'fastify';
import type { Query } from '../query/params.js';
import { int, onlyKnown, str, time } from '../query/params.js';
import type { KeyMinute, ReportWindow, SketchBuckets } from '../store/rollups.js';
import { HOURLY_ABOVE_MS, MINUTE_MS, mergeBuckets, quantiles, SKETCH_ALPHA, unitOf, windowMinutes } from '../store/rollups.js';
import type { Store } from '../store/store.js';

const HOUR_MS = 3_600_000;
/** A report reads at most this many days of rollups. */
export const MAX_REPORT_DAYS = 31;
export const MAX_KEYS_LIMIT = 1000;

/** `from`/`to` (RFC 3339 or epoch ms; default the last hour) and `component`. */
export function reportWindow(q: Query, nowMs: number): ReportWindow {
  const to = time(q, 'to') ?? nowMs;
  const from = time(q, 'from') ?? to - HOUR_MS;
  if (from > to)
    throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter 'from' (${new Date(from).toISOString()}) is after 'to' (${new Date(to).toISOString()})`);
  if (to - from > MAX_REPORT_DAYS * 24 * HOUR_MS)
    throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `the window from 'from' to 'to' is longer than ${MAX_REPORT_DAYS} days`);
  const component = str(q, 'component');
  // Long windows are read from the hourly rollups, in whole hours.
  return { fromMs: from, toMs: to, component: component === '' ? undefined : component, hourly: to - from > HOURLY_ABOVE_MS };
}

/** The window actually covered (whole minutes, or hours), and the buckets' width. */
function windowBody(w: ReportWindow): { from: string; to: string; step: string; component?: string } {
  const [lo, hi] = windowMinutes(w);
  const out: { from: string; to: string; step: string; component?: string } = {
    from: new Date(lo * MINUTE_MS).toISOString(),
    to: new Date((hi + unitOf(w)) * MINUTE_MS).toISOString(),
    step: w.hourly ? '1h' : '1m',
  };
  if (w.component !== undefined) out.component = w.component;
  return out;
}

export interface ComponentReport {
  component: string | null;
  events: number;
  levels: Record<string, number>;
  errorRate: number;
  buckets: { start: string; events: number; errors: number }[];
}

export async function componentsReport(store: Store, w: ReportWindow) {
  const rows = await store.reportLevels(w);
  const byComp = new Map<string | null, ComponentReport & { at: Map<number, { start: string; events: number; errors: number }> }>();
  for (const r of rows) {
    let c = byComp.get(r.component);
    if (!c) {
      c = { component: r.component, events: 0, levels: {}, errorRate: 0, buckets: [], at: new Map() };
      byComp.set(r.component, c);
    }
    c.events += r.events;
    if (r.level !== null) c.levels[r.level] = (c.levels[r.level] ?? 0) + r.events;
    let b = c.at.get(r.minute);
    if (!b) {
      b = { start: new Date(r.minute * MINUTE_MS).toISOString(), events: 0, errors: 0 };
      c.at.set(r.minute, b);
      c.buckets.push(b);
    }
    b.events += r.events;
    if (r.level === 'error') b.errors += r.events;
  }
  const components = [...byComp.values()].map(({ at: _at, ...c }) => ({ ...c, errorRate: c.events > 0 ? (c.levels.error ?? 0) / c.events : 0 }));
  components.sort((a, b) => b.events - a.events || ((a.component ?? '') < (b.component ?? '') ? -1 : 1));
  return { ...windowBody(w), components };
}

export async function keysReport(store: Store, w: ReportWindow, limit: number) {
  return { ...windowBody(w), keys: await store.reportKeys(w, limit) };
}

/** Figures of a set of values from their merged minutes: count, min, max, mean, quantiles. */
function figures(ms: KeyMinute[]) {
  let n = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  const b: SketchBuckets = {};
  for (const m of ms) {
    n += m.n;
    sum += m.sum;
    if (m.min < min) min = m.min;
    if (m.max > max) max = m.max;
    mergeBuckets(b, m.buckets);
  }
  if (n === 0) return { count: 0, min: null, max: null, mean: null, p50: null, p95: null, p99: null };
  const [p50, p95, p99] = quantiles(b, [0.5, 0.95, 0.99], min, max);
  return { count: n, min, max, mean: sum / n, p50: p50 ?? null, p95: p95 ?? null, p99: p99 ?? null };
}

export async function statsReport(store: Store, w: ReportWindow, key: string) {
  const minutes = await store.reportKeyMinutes(w, key);
  const buckets = minutes.map((m) => {
    const f = figures([m]);
    return { start: new Date(m.minute * MINUTE_MS).toISOString(), count: f.count, mean: f.mean, min: f.min, max: f.max, p50: f.p50, p95: f.p95, p99: f.p99 };
  });
  return { key, ...windowBody(w), ...figures(minutes), relativeError: SKETCH_ALPHA, buckets };
}

const WINDOW_PARAMS = ['from', 'to', 'component'];

export function registerHealthReports(app: FastifyInstance, store: Store, clock: () => number = Date.now): void {
  app.get('/v1/reports/components', async (req) => {
    const q = req.query as Query;
    onlyKnown(q, WINDOW_PARAMS, 'GET /v1/reports/components');
    return componentsReport(store, reportWindow(q, clock()));
  });
  app.get('/v1/reports/keys', async (req) => {
    const q = req.query as Query;
    onlyKnown(q, [...WINDOW_PARAMS, 'limit'], 'GET /v1/reports/keys');
    const limit = int(q, 'limit', 50, 1, MAX_KEYS_LIMIT);
    return keysReport(store, reportWindow(q, clock()), limit);
  });
  app.get('/v1/reports/stats', async (req) => {
    const q = req.query as Query;
    onlyKnown(q, [...WINDOW_PARAMS, 'key'], 'GET /v1/reports/stats');
    const key = str(q, 'key');
    if (key === undefined || key === '')
      throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', "parameter 'key' is required: the key whose numeric values to report (e.g. key=api.latency)");
    return statsReport(store, reportWindow(q, clock()), key);
  });
}
