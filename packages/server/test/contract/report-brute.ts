/**
 * Reports computed the slow way: straight over raw events, as a check on the rollups. Windows are
 * whole minutes (or hours) of receipt time, from the one holding `from` to the one holding `to`.
 */
import assert from 'node:assert/strict';

export interface RawEvent {
  ms: number;
  component: string | null;
  level: string | null;
  key: string;
  /** The value as sent: a number, an object, a string... */
  value: unknown;
}

export interface Win {
  fromMs: number;
  toMs: number;
  component?: string | undefined;
  /** Whole hours instead of whole minutes (the hourly rollups). */
  hourly?: boolean;
}

/** Minutes per row: 60 for an hourly window. */
export function unit(w: Win): number {
  return w.hourly ? 60 : 1;
}

export const ALPHA = 0.01;

export function inWindow(events: RawEvent[], w: Win): RawEvent[] {
  const u = unit(w) * 60_000;
  const lo = Math.floor(w.fromMs / u);
  const hi = Math.floor(w.toMs / u);
  return events.filter((e) => {
    const m = Math.floor(e.ms / u);
    return m >= lo && m <= hi && (w.component === undefined || e.component === w.component);
  });
}

export function numeric(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const x = (v as { value?: unknown }).value;
    if (typeof x === 'number' && Number.isFinite(x)) return x;
  }
  return undefined;
}

export function bruteComponents(events: RawEvent[]): Map<string | null, { events: number; levels: Record<string, number> }> {
  const out = new Map<string | null, { events: number; levels: Record<string, number> }>();
  for (const e of events) {
    let c = out.get(e.component);
    if (!c) {
      c = { events: 0, levels: {} };
      out.set(e.component, c);
    }
    c.events++;
    if (e.level !== null) c.levels[e.level] = (c.levels[e.level] ?? 0) + 1;
  }
  return out;
}

export function bruteKeys(events: RawEvent[]): { key: string; events: number }[] {
  const m = new Map<string, number>();
  for (const e of events) m.set(e.key, (m.get(e.key) ?? 0) + 1);
  return [...m].map(([key, n]) => ({ key, events: n })).sort((a, b) => b.events - a.events || (a.key < b.key ? -1 : 1));
}

export interface BruteStats {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  sorted: number[];
}

export function bruteStats(events: RawEvent[], key: string): BruteStats {
  const xs = events
    .filter((e) => e.key === key)
    .map((e) => numeric(e.value))
    .filter((x): x is number => x !== undefined)
    .sort((a, b) => a - b);
  if (xs.length === 0) return { count: 0, min: null, max: null, mean: null, sorted: [] };
  return { count: xs.length, min: xs[0] as number, max: xs[xs.length - 1] as number, mean: xs.reduce((a, b) => a + b, 0) / xs.length, sorted: xs };
}

/** The exact q-quantile: the value of rank ceil(q·n). */
export function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
}

/** Asserts a sketch quantile is within the stated relative error of the exact one. */
export function assertQuantile(got: number | null, sorted: number[], q: number, what: string): void {
  const want = exactQuantile(sorted, q);
  assert.ok(got !== null, `${what}: p${q * 100} missing`);
  const err = Math.abs((got as number) - want);
  assert.ok(err <= ALPHA * Math.abs(want) + 1e-9, `${what}: p${q * 100} = ${got}, exact ${want}: off by ${err}, more than ${ALPHA * 100}%`);
}

/** Asserts a mean equals the exact one but for the order floating-point sums were taken in. */
export function assertMean(got: number | null, want: number | null, what: string): void {
  if (want === null) {
    assert.equal(got, null, what);
    return;
  }
  assert.ok(got !== null && Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: mean ${got}, exact ${want}`);
}
