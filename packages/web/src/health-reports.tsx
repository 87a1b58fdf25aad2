/**
 * The health reports on the health page: events and error rate per component over time
 * (`GET /v1/reports/components`), and p50/p95/p99 of a chosen key over time
 * (`GET /v1/reports/stats`, keys offered from `GET /v1/reports/keys`). Needs a read token; the
 * server answers from its per-minute rollups, so a day's window costs as little as an hour's.
 */
import { useEffect, useMemo, useState } from 'react';
import { errorText, getJson } from './api.ts';
import { Chart } from './chart.tsx';

interface ComponentRow {
  component: string | null;
  events: number;
  levels: Record<string, number>;
  errorRate: number;
  buckets: { start: string; events: number; errors: number }[];
}
interface ComponentsBody {
  from: string;
  to: string;
  /** Bucket width: '1m', or '1h' for windows over 6 hours. */
  step: string;
  components: ComponentRow[];
}
interface StatsBody {
  key: string;
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  relativeError: number;
  buckets: { start: string; count: number; mean: number | null; p50: number | null; p95: number | null; p99: number | null }[];
}

const WINDOWS = [
  { label: 'last hour', ms: 3_600_000 },
  { label: 'last 6 hours', ms: 6 * 3_600_000 },
  { label: 'last 24 hours', ms: 24 * 3_600_000 },
];
const COLORS = ['#1565c0', '#2f7d32', '#c62828', '#ef6c00', '#6a1b9a', '#00838f', '#5d4037', '#ad1457'];
/** Components charted one line each; the others are summed into "other". */
const MAX_LINES = 7;
const REFRESH_MS = 15_000;

type Data = [number[], ...number[][]];

function fmt(x: number | null): string {
  if (x === null) return '—';
  return Number.isInteger(x) ? x.toLocaleString() : Number(x.toPrecision(4)).toLocaleString();
}

/** Every bucket start of the window, in seconds (uPlot's time unit). */
function bucketsOf(from: string, to: string, step: string): number[] {
  const out: number[] = [];
  const width = step === '1h' ? 3_600_000 : 60_000;
  for (let t = Date.parse(from); t < Date.parse(to); t += width) out.push(t / 1000);
  return out;
}

export function HealthReports() {
  const [windowMs, setWindowMs] = useState(WINDOWS[0]?.ms ?? 3_600_000);
  const [tick, setTick] = useState(0);
  const [comps, setComps] = useState<ComponentsBody | null>(null);
  const [keys, setKeys] = useState<{ key: string; events: number }[]>([]);
  const [key, setKey] = useState<string>('');
  /** Keys and the key's figures of this component only ('' = every component). */
  const [component, setComponent] = useState<string>('');
  const [stats, setStats] = useState<StatsBody | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), REFRESH_MS);
    return () => clearInterval(t);
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: tick re-runs the fetch on purpose.
  useEffect(() => {
    const ctl = new AbortController();
    const to = Date.now();
    const w = `from=${to - windowMs}&to=${to}`;
    Promise.all([
      getJson<ComponentsBody>(`/v1/reports/components?${w}`, ctl.signal),
      getJson<{ keys: { key: string; events: number }[] }>(`/v1/reports/keys?${w}&limit=100`, ctl.signal),
    ])
      .then(([c, k]) => {
        setComps(c);
        setKeys(k.keys);
        setError(null);
      })
      .catch((err) => {
        if (!ctl.signal.aborted) setError(errorText(err));
      });
    return () => ctl.abort();
  }, [windowMs, component, tick]);

  // The key charted: the one chosen, else the first listed.
  const shown = key !== '' ? key : (keys[0]?.key ?? '');
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick re-runs the fetch on purpose.
  useEffect(() => {
    if (shown === '') {
      setStats(null);
      return;
    }
    const ctl = new AbortController();
    const to = Date.now();
    const only = component !== '' ? `&component=${encodeURIComponent(component)}` : '';
    getJson<StatsBody>(`/v1/reports/stats?key=${encodeURIComponent(shown)}&from=${to - windowMs}&to=${to}${only}`, ctl.signal)
      .then(setStats)
      .catch((err) => {
        if (!ctl.signal.aborted) setError(errorText(err));
      });
    return () => ctl.abort();
  }, [shown, windowMs, component, tick]);

  const charts = useMemo(() => {
    if (!comps) return null;
    const xs = bucketsOf(comps.from, comps.to, comps.step);
    const index = new Map(xs.map((x, i) => [x, i]));
    const lines = comps.components.slice(0, MAX_LINES);
    const rest = comps.components.slice(MAX_LINES);
    const groups = rest.length > 0 ? [...lines.map((c) => [c]), rest] : lines.map((c) => [c]);
    const names = groups.map((g) => (g.length > 1 ? 'other' : (g[0]?.component ?? '(none)')));
    const events = groups.map(() => xs.map(() => 0));
    const errors = groups.map(() => xs.map(() => 0));
    groups.forEach((g, gi) => {
      for (const c of g) {
        for (const b of c.buckets) {
          const i = index.get(Date.parse(b.start) / 1000);
          if (i === undefined) continue;
          (events[gi] as number[])[i] = ((events[gi] as number[])[i] as number) + b.events;
          (errors[gi] as number[])[i] = ((errors[gi] as number[])[i] as number) + b.errors;
        }
      }
    });
    // Error rate in percent; no events in a minute leaves a gap, not a zero.
    const rates = events.map((ev, gi) => ev.map((n, i) => (n > 0 ? (100 * ((errors[gi] as number[])[i] as number)) / n : null)));
    const series = names.map((label, i) => ({ label, color: COLORS[i % COLORS.length] as string }));
    return { series, events: [xs, ...events] as Data, rates: [xs, ...rates] as unknown as Data };
  }, [comps]);

  const statData = useMemo(() => {
    if (!stats) return null;
    const xs = stats.buckets.map((b) => Date.parse(b.start) / 1000);
    return [xs, stats.buckets.map((b) => b.p50), stats.buckets.map((b) => b.p95), stats.buckets.map((b) => b.p99)] as unknown as Data;
  }, [stats]);

  return (
    <section aria-labelledby="reports-head" className="health-reports">
      <h2 id="reports-head">Components and keys</h2>
      <div className="report-controls">
        <label>
          Window{' '}
          <select value={windowMs} onChange={(e) => setWindowMs(Number(e.target.value))}>
            {WINDOWS.map((w) => (
              <option key={w.ms} value={w.ms}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {comps && comps.components.length === 0 ? <p className="empty">No events in this window.</p> : null}
      {comps && comps.components.length > 0 ? (
        <div className="table-scroll">
          <table className="components-table">
            <thead>
              <tr>
                <th scope="col">component</th>
                <th scope="col">events</th>
                <th scope="col">errors</th>
                <th scope="col">error rate</th>
              </tr>
            </thead>
            <tbody>
              {comps.components.map((c) => (
                <tr key={c.component ?? ''}>
                  <th scope="row">{c.component ?? '(none)'}</th>
                  <td className="num">{c.events.toLocaleString()}</td>
                  <td className="num">{(c.levels.error ?? 0).toLocaleString()}</td>
                  <td className="num">{(c.errorRate * 100).toFixed(2)}%</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {charts && charts.series.length > 0 ? (
        <div className="charts">
          <Chart title={`Events per ${comps?.step === '1h' ? 'hour' : 'minute'}, per component`} series={charts.series} data={charts.events} />
          <Chart title="Error rate per component (%)" series={charts.series} data={charts.rates} />
        </div>
      ) : null}
      {keys.length > 0 ? (
        <div className="key-stats">
          <label>
            Component{' '}
            <select value={component} onChange={(e) => setComponent(e.target.value)} aria-label="component of the key figures">
              <option value="">all</option>
              {(comps?.components ?? [])
                .filter((c) => c.component !== null)
                .map((c) => (
                  <option key={c.component} value={c.component ?? ''}>
                    {c.component}
                  </option>
                ))}
            </select>
          </label>{' '}
          <label>
            Key{' '}
            <select value={shown} onChange={(e) => setKey(e.target.value)} aria-label="key to chart">
              {keys.map((k) => (
                <option key={k.key} value={k.key}>
                  {k.key} ({k.events.toLocaleString()})
                </option>
              ))}
            </select>
          </label>
          {stats && stats.count === 0 ? <p className="empty">{stats.key} has no numeric values in this window.</p> : null}
          {stats && stats.count > 0 ? (
            <>
              <dl className="key-figures" aria-label={`figures of ${stats.key}`}>
                {(['count', 'min', 'mean', 'max', 'p50', 'p95', 'p99'] as const).map((f) => (
                  <div key={f}>
                    <dt>{f}</dt>
                    <dd data-figure={f}>{fmt(stats[f])}</dd>
                  </div>
                ))}
              </dl>
              <p className="note">Quantiles within {stats.relativeError * 100}% of the exact values.</p>
              {statData ? (
                <div className="charts">
                  <Chart
                    title={`${stats.key}: p50 / p95 / p99 per ${comps?.step === '1h' ? 'hour' : 'minute'}`}
                    series={[
                      { label: 'p50', color: '#2f7d32' },
                      { label: 'p95', color: '#ef6c00' },
                      { label: 'p99', color: '#c62828' },
                    ]}
                    data={statData}
                  />
                </div>
              ) : null}
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
