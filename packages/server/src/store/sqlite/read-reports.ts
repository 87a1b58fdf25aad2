/**
 * Reports from the rollup tables of the day files a window touches (day-index.ts ROLLUP_SCHEMA):
 * a minute's rows are summed over components (and levels), sketches merged by adding bucket
 * counts. Raw events are never read here.
 */
import { dayOf } from '@logsrv/protocol';
import type { KeyCount, KeyMinute, LevelMinute, ReportWindow, SketchBuckets } from '../rollups.js';
import { decodeSketchInto, MINUTE_MS, tableSuffix, windowMinutes } from '../rollups.js';
import type { ReadContext } from './read-events.js';
import { isNoSuchTable } from './read-events.js';

/** Each day of the window with its file, and the window's minute range. */
function* daysOf(ctx: ReadContext, w: ReportWindow): Generator<{ day: string; db: import('better-sqlite3').Database }> {
  const [lo, hi] = windowMinutes(w);
  const first = dayOf(lo * MINUTE_MS);
  const last = dayOf(hi * MINUTE_MS);
  for (const day of ctx.days()) {
    if (day < first || day > last) continue;
    const db = ctx.conn(day);
    if (db) yield { day, db };
  }
}

function args(w: ReportWindow, ...more: unknown[]): unknown[] {
  const [lo, hi] = windowMinutes(w);
  const a: unknown[] = [...more, lo, hi];
  if (w.component !== undefined) a.push(w.component);
  return a;
}

const byComponent = (w: ReportWindow) => (w.component !== undefined ? ' AND component = ?' : '');

export function reportLevels(ctx: ReadContext, w: ReportWindow): LevelMinute[] {
  const sql = `SELECT minute, component, level, events FROM rollup_levels${tableSuffix(w)} WHERE minute BETWEEN ? AND ?${byComponent(w)} ORDER BY minute, component, level`;
  const out: LevelMinute[] = [];
  for (const { day, db } of daysOf(ctx, w)) {
    try {
      for (const r of ctx.stmt(day, db, sql).all(...args(w)) as { minute: number; component: string; level: string; events: number }[]) {
        out.push({ minute: r.minute, component: r.component === '' ? null : r.component, level: r.level === '' ? null : r.level, events: r.events });
      }
    } catch (err) {
      if (!isNoSuchTable(err)) throw err;
    }
  }
  return out;
}

export function reportKeys(ctx: ReadContext, w: ReportWindow, limit: number): KeyCount[] {
  const sql = `SELECT key, sum(events) AS events FROM rollup_keys${tableSuffix(w)} WHERE minute BETWEEN ? AND ?${byComponent(w)} GROUP BY key`;
  const totals = new Map<string, number>();
  for (const { day, db } of daysOf(ctx, w)) {
    try {
      for (const r of ctx.stmt(day, db, sql).all(...args(w)) as KeyCount[]) totals.set(r.key, (totals.get(r.key) ?? 0) + r.events);
    } catch (err) {
      if (!isNoSuchTable(err)) throw err;
    }
  }
  return [...totals]
    .map(([key, events]) => ({ key, events }))
    .sort((a, b) => b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, limit);
}

export function reportKeyMinutes(ctx: ReadContext, w: ReportWindow, key: string): KeyMinute[] {
  const where = `key = ? AND minute BETWEEN ? AND ?${byComponent(w)}`;
  const totalsSql = `SELECT minute, sum(n) AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max FROM rollup_values${tableSuffix(w)} WHERE ${where} GROUP BY minute ORDER BY minute`;
  const sketchSql = `SELECT minute, sketch FROM rollup_values${tableSuffix(w)} WHERE ${where}`;
  const out: KeyMinute[] = [];
  for (const { day, db } of daysOf(ctx, w)) {
    try {
      const at = new Map<number, KeyMinute>();
      for (const r of ctx.stmt(day, db, totalsSql).all(...args(w, key)) as Omit<KeyMinute, 'buckets'>[]) {
        const m: KeyMinute = { ...r, buckets: {} };
        at.set(r.minute, m);
        out.push(m);
      }
      for (const r of ctx.stmt(day, db, sketchSql).all(...args(w, key)) as { minute: number; sketch: Uint8Array }[]) {
        const m = at.get(r.minute);
        if (m) decodeSketchInto(r.sketch, m.buckets as SketchBuckets);
      }
    } catch (err) {
      if (!isNoSuchTable(err)) throw err;
    }
  }
  return out;
}
