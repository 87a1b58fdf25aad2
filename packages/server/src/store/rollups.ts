/**
 * Rollups: what the reports (`GET /v1/reports/components|keys|stats`) read, kept per minute of
 * receipt time as events are committed, never computed by scanning events at query time.
 *
 * Three tables per day partition (each engine stores them with its day, so retention, archive and
 * restore carry them):
 * - levels: (minute, component, level) → events
 * - keys:   (minute, component, key) → events
 * - values: (key, minute, component) → n, sum, min, max and a quantile sketch of the key's
 *   numeric values: a JSON number, or the numeric `value` field of a JSON object.
 * `minute` is `floor(ms / 60000)` of the event's id (receipt time); a missing component or level
 * is stored as '' (reported as null). Each table has an hourly twin (`…_h`, `minute` = the hour's
 * first minute), written in the same transaction, so a report over a day reads 24 rows per
 * component and key instead of 1,440: windows longer than {@link HOURLY_ABOVE_MS} are read from
 * it, in whole hours.
 *
 * The sketch is a log-bucket sketch in the manner of DDSketch (Masson, Rim, Lee, VLDB 2019),
 * written here: a value x ≠ 0 falls in bucket i = ceil(log_γ |x|) with γ = (1 + α)/(1 − α), and a
 * bucket is read back as 2γ^i/(γ + 1), which is within a relative error α of every value in it.
 * Buckets are counts, so sketches merge by adding counts (per minute, component and day alike)
 * and the merged sketch is exactly the sketch of all the values. A quantile q of n values is the
 * value of rank ceil(q·n) (1-based, ascending): the sketch returns its bucket's value, so the
 * answer is within α = 1% of the exact value of that rank. Values with |x| < 1e-9 count as 0.
 * Buckets are named `p12`, `n4`, `z` (positive bucket 12, negative bucket 4, zeros). PostgreSQL
 * stores them as jsonb and merges in SQL; SQLite stores the compact binary form of
 * {@link encodeSketch} and merges with a function of the writer's connection (a JSON merge
 * re-parsed and re-wrote ~150 buckets per upsert: ~90 µs, most of the rollups' cost).
 */

/** Relative error of quantiles. */
export const SKETCH_ALPHA = 0.01;
const GAMMA = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA);
const LN_GAMMA = Math.log(GAMMA);
/** Below this magnitude a value is counted as zero. */
export const SKETCH_MIN = 1e-9;
export const MINUTE_MS = 60_000;
/** Report windows longer than this are read from the hourly tables, widened to whole hours. */
export const HOURLY_ABOVE_MS = 6 * 3_600_000;

/** Bucket counts by name (`p<i>`, `n<i>`, `z`): the stored and merged form. */
export type SketchBuckets = Record<string, number>;

/** The bucket name of a value. */
export function bucketOf(x: number): string {
  if (Math.abs(x) < SKETCH_MIN) return 'z';
  const i = Math.ceil(Math.log(Math.abs(x)) / LN_GAMMA);
  return x > 0 ? `p${i}` : `n${i}`;
}

function bucketValue(i: number): number {
  return (2 * GAMMA ** i) / (GAMMA + 1);
}

/** Adds `b`'s counts into `a`. */
export function mergeBuckets(a: SketchBuckets, b: SketchBuckets): SketchBuckets {
  for (const k in b) a[k] = (a[k] ?? 0) + (b[k] as number);
  return a;
}

/**
 * Quantiles of the values a sketch holds, each clamped to [min, max] (the exact extremes); null
 * when it holds none.
 */
export function quantiles(b: SketchBuckets, qs: number[], min: number, max: number): (number | null)[] {
  const entries: [number, number][] = []; // [value, count] ascending
  const neg: [number, number][] = [];
  let zeros = 0;
  let n = 0;
  for (const k in b) {
    const c = b[k] as number;
    if (c <= 0) continue;
    n += c;
    if (k === 'z') zeros += c;
    else if (k[0] === 'p') entries.push([bucketValue(Number(k.slice(1))), c]);
    else neg.push([-bucketValue(Number(k.slice(1))), c]);
  }
  if (n === 0) return qs.map(() => null);
  neg.sort((x, y) => x[0] - y[0]);
  entries.sort((x, y) => x[0] - y[0]);
  const all = zeros > 0 ? [...neg, [0, zeros] as [number, number], ...entries] : [...neg, ...entries];
  return qs.map((q) => {
    const rank = Math.max(1, Math.ceil(q * n));
    let seen = 0;
    for (const [v, c] of all) {
      seen += c;
      if (seen >= rank) return Math.min(max, Math.max(min, v));
    }
    return max;
  });
}

/**
 * The numeric value of an event for the sketch: a JSON number, or an object's numeric `value`;
 * undefined otherwise. `vjson` bit 0 says the value is JSON text.
 */
export function numericValue(value: string, vjson: number): number | undefined {
  if ((vjson & 1) === 0 || value.length === 0) return undefined;
  const c = value.charCodeAt(0);
  if ((c >= 48 && c <= 57) || c === 45) {
    const x = Number(value);
    return Number.isFinite(x) ? x : undefined;
  }
  if (c === 123 && value.includes('"value"')) {
    try {
      const o = JSON.parse(value) as { value?: unknown };
      return typeof o.value === 'number' && Number.isFinite(o.value) ? o.value : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** One (key, minute, component)'s numeric values in a batch. */
export interface ValueAcc {
  n: number;
  sum: number;
  min: number;
  max: number;
  buckets: SketchBuckets;
}

interface ComponentAcc {
  levels: Map<string, number>;
  keys: Map<string, number>;
  values: Map<string, ValueAcc> | null;
}

/** A row of each table, ready to upsert. */
export interface RollupRows {
  levels: [number, string, string, number][];
  keys: [number, string, string, number][];
  /** key, minute, component, n, sum, min, max, sketch buckets */
  values: [string, number, string, number, number, number, number, SketchBuckets][];
}

/**
 * Folds events into rollup rows in memory (one row per minute, component and level/key of the
 * batch, not per event); the engine then upserts them in its append transaction.
 */
export class RollupFolder {
  private readonly minutes = new Map<number, Map<string, ComponentAcc>>();
  private lastMinute = Number.NaN;
  private comps: Map<string, ComponentAcc> = new Map();

  add(ms: number, component: string | null, level: string | null, key: string, value: string, vjson: number): void {
    const minute = Math.floor(ms / MINUTE_MS);
    if (minute !== this.lastMinute) {
      this.lastMinute = minute;
      let m = this.minutes.get(minute);
      if (m === undefined) {
        m = new Map();
        this.minutes.set(minute, m);
      }
      this.comps = m;
    }
    const comp = component ?? '';
    let a = this.comps.get(comp);
    if (a === undefined) {
      a = { levels: new Map(), keys: new Map(), values: null };
      this.comps.set(comp, a);
    }
    const lv = level ?? '';
    a.levels.set(lv, (a.levels.get(lv) ?? 0) + 1);
    a.keys.set(key, (a.keys.get(key) ?? 0) + 1);
    const x = numericValue(value, vjson);
    if (x === undefined) return;
    a.values ??= new Map();
    let v = a.values.get(key);
    if (v === undefined) {
      v = { n: 0, sum: 0, min: x, max: x, buckets: {} };
      a.values.set(key, v);
    }
    v.n++;
    v.sum += x;
    if (x < v.min) v.min = x;
    if (x > v.max) v.max = x;
    const b = bucketOf(x);
    v.buckets[b] = (v.buckets[b] ?? 0) + 1;
  }

  get empty(): boolean {
    return this.minutes.size === 0;
  }

  /**
   * The rows at `unit` minutes (1, or 60 for the hourly tables), each table in primary-key order
   * (so concurrent writers lock rows in one order).
   */
  rows(unit = 1): RollupRows {
    const out: RollupRows = { levels: [], keys: [], values: [] };
    if (unit === 1) {
      for (const [minute, comps] of this.minutes) {
        for (const [comp, a] of comps) {
          for (const [lv, n] of a.levels) out.levels.push([minute, comp, lv, n]);
          for (const [key, n] of a.keys) out.keys.push([minute, comp, key, n]);
          if (a.values) for (const [key, v] of a.values) out.values.push([key, minute, comp, v.n, v.sum, v.min, v.max, v.buckets]);
        }
      }
    } else {
      const levels = new Map<string, [number, string, string, number]>();
      const keys = new Map<string, [number, string, string, number]>();
      const values = new Map<string, [string, number, string, ValueAcc]>();
      for (const [minute, comps] of this.minutes) {
        const at = Math.floor(minute / unit) * unit;
        for (const [comp, a] of comps) {
          for (const [lv, n] of a.levels) {
            const id = `${at}\0${comp}\0${lv}`;
            const r = levels.get(id);
            if (r) r[3] += n;
            else levels.set(id, [at, comp, lv, n]);
          }
          for (const [key, n] of a.keys) {
            const id = `${at}\0${comp}\0${key}`;
            const r = keys.get(id);
            if (r) r[3] += n;
            else keys.set(id, [at, comp, key, n]);
          }
          if (!a.values) continue;
          for (const [key, v] of a.values) {
            const id = `${at}\0${comp}\0${key}`;
            const r = values.get(id);
            if (!r) values.set(id, [key, at, comp, { n: v.n, sum: v.sum, min: v.min, max: v.max, buckets: { ...v.buckets } }]);
            else {
              const m = r[3];
              m.n += v.n;
              m.sum += v.sum;
              if (v.min < m.min) m.min = v.min;
              if (v.max > m.max) m.max = v.max;
              mergeBuckets(m.buckets, v.buckets);
            }
          }
        }
      }
      out.levels = [...levels.values()];
      out.keys = [...keys.values()];
      for (const [key, at, comp, v] of values.values()) out.values.push([key, at, comp, v.n, v.sum, v.min, v.max, v.buckets]);
    }
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    out.levels.sort((a, b) => a[0] - b[0] || cmp(a[1], b[1]) || cmp(a[2], b[2]));
    out.keys.sort((a, b) => a[0] - b[0] || cmp(a[1], b[1]) || cmp(a[2], b[2]));
    out.values.sort((a, b) => cmp(a[0], b[0]) || a[1] - b[1] || cmp(a[2], b[2]));
    return out;
  }
}

/**
 * A report's window: whole minutes, from the one holding `fromMs` to the one holding `toMs`; with
 * `hourly`, whole hours the same way, read from the hourly tables.
 */
export interface ReportWindow {
  fromMs: number;
  toMs: number;
  component?: string | undefined;
  hourly?: boolean | undefined;
}

/** Minutes per row of the tables a window reads. */
export function unitOf(w: ReportWindow): number {
  return w.hourly ? 60 : 1;
}

/** The first minute of the window's first and last rows. */
export function windowMinutes(w: ReportWindow): [number, number] {
  const u = unitOf(w);
  return [Math.floor(w.fromMs / MINUTE_MS / u) * u, Math.floor(w.toMs / MINUTE_MS / u) * u];
}

/** Table name suffix of the window's resolution. */
export function tableSuffix(w: ReportWindow): string {
  return w.hourly ? '_h' : '';
}

/** Events per minute, component and level (component/level null when events had none). */
export interface LevelMinute {
  minute: number;
  component: string | null;
  level: string | null;
  events: number;
}

export interface KeyCount {
  key: string;
  events: number;
}

/** One minute of a key's numeric values, merged over components. */
export interface KeyMinute {
  minute: number;
  n: number;
  sum: number;
  min: number;
  max: number;
  buckets: SketchBuckets;
}

/**
 * Binary sketch: Int32 little-endian words `[zeros, posLo, posN, negLo, negN, pos counts…,
 * neg counts…]` — count k of the positive run is bucket `posLo + k`.
 */
export function encodeSketch(b: SketchBuckets): Buffer {
  let zeros = 0;
  let pLo = Number.POSITIVE_INFINITY;
  let pHi = Number.NEGATIVE_INFINITY;
  let nLo = Number.POSITIVE_INFINITY;
  let nHi = Number.NEGATIVE_INFINITY;
  for (const k in b) {
    if (k === 'z') zeros = b[k] as number;
    else {
      const i = Number(k.slice(1));
      if (k[0] === 'p') {
        if (i < pLo) pLo = i;
        if (i > pHi) pHi = i;
      } else {
        if (i < nLo) nLo = i;
        if (i > nHi) nHi = i;
      }
    }
  }
  const pN = pHi >= pLo ? pHi - pLo + 1 : 0;
  const nN = nHi >= nLo ? nHi - nLo + 1 : 0;
  const a = new Int32Array(5 + pN + nN);
  a[0] = zeros;
  a[1] = pN > 0 ? pLo : 0;
  a[2] = pN;
  a[3] = nN > 0 ? nLo : 0;
  a[4] = nN;
  for (const k in b) {
    if (k === 'z') continue;
    const i = Number(k.slice(1));
    if (k[0] === 'p') a[5 + i - pLo] = b[k] as number;
    else a[5 + pN + i - nLo] = b[k] as number;
  }
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function words(u: Uint8Array): Int32Array {
  // Copied when unaligned (SQLite hands out blobs at any offset).
  if (u.byteOffset % 4 === 0) return new Int32Array(u.buffer, u.byteOffset, u.byteLength >> 2);
  return new Int32Array(Uint8Array.from(u).buffer);
}

/** Adds an encoded sketch's counts into `into`. */
export function decodeSketchInto(u: Uint8Array, into: SketchBuckets): SketchBuckets {
  const a = words(u);
  const zeros = a[0] as number;
  if (zeros > 0) into.z = (into.z ?? 0) + zeros;
  const pLo = a[1] as number;
  const pN = a[2] as number;
  const nLo = a[3] as number;
  const nN = a[4] as number;
  for (let k = 0; k < pN; k++) {
    const c = a[5 + k] as number;
    if (c > 0) into[`p${pLo + k}`] = (into[`p${pLo + k}`] ?? 0) + c;
  }
  for (let k = 0; k < nN; k++) {
    const c = a[5 + pN + k] as number;
    if (c > 0) into[`n${nLo + k}`] = (into[`n${nLo + k}`] ?? 0) + c;
  }
  return into;
}

/** The sum of two encoded sketches, encoded: a typed-array add, no text. */
export function mergeSketchBlobs(x: Uint8Array, y: Uint8Array): Buffer {
  const a = words(x);
  const b = words(y);
  const run = (lo1: number, n1: number, lo2: number, n2: number): [number, number] => {
    if (n1 === 0) return [lo2, n2];
    if (n2 === 0) return [lo1, n1];
    const lo = Math.min(lo1, lo2);
    return [lo, Math.max(lo1 + n1, lo2 + n2) - lo];
  };
  const [pLo, pN] = run(a[1] as number, a[2] as number, b[1] as number, b[2] as number);
  const [nLo, nN] = run(a[3] as number, a[4] as number, b[3] as number, b[4] as number);
  const out = new Int32Array(5 + pN + nN);
  out[0] = (a[0] as number) + (b[0] as number);
  out[1] = pLo;
  out[2] = pN;
  out[3] = nLo;
  out[4] = nN;
  for (const s of [a, b]) {
    const lo = s[1] as number;
    const n = s[2] as number;
    for (let k = 0; k < n; k++) out[5 + lo - pLo + k] = (out[5 + lo - pLo + k] as number) + (s[5 + k] as number);
    const nlo = s[3] as number;
    const nn = s[4] as number;
    for (let k = 0; k < nn; k++) out[5 + pN + nlo - nLo + k] = (out[5 + pN + nlo - nLo + k] as number) + (s[5 + n + k] as number);
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
