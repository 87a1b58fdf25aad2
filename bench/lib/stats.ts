/** Small numeric helpers shared by the benchmarks: medians of repetitions and readable numbers. */
import type { Measurement } from './types.ts';

/** The median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The value at quantile `q` (0..1) of an unsorted sample, nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

/**
 * The largest value (−Infinity for none). Not `Math.max(...values)`: spread as arguments, a
 * long run's latencies (145k lines in 15 s at 10k lines/s) overflow the call stack.
 */
export function maxOf(values: readonly number[]): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > m) m = v;
  return m;
}

export function measurement(label: string, unit: string, runs: number[]): Measurement {
  return { label, unit, median: median(runs), runs };
}

/** `123456.7` → `123,457`; small values keep some decimals. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A share as a percentage (`0.123` → `12.3%`); shares under 1 % keep three decimals, to show small losses. */
export function fmtPct(share: number): string {
  return `${(share * 100).toFixed(share < 0.01 ? 3 : 1)}%`;
}

export function fmtRatio(r: number | undefined): string {
  return r === undefined ? '—' : `${r.toFixed(2)}×`;
}
