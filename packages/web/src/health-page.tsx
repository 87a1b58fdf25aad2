/**
 * Health: `/healthz` and `/metrics` sampled every 2 s and charted (rates from counter deltas),
 * and the rate-limit report `GET /v1/reports/blocked?window=15m` (needs an admin token).
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, apiFetch, errorText, getJson } from './api.ts';
import { Chart } from './chart.tsx';
import { HealthReports } from './health-reports.tsx';
import { parseMetrics, type Samples } from './metrics.ts';

const SAMPLE_MS = 2000;
const KEEP = 300;

interface Point {
  t: number;
  m: Samples;
}

interface Blocked {
  window: string;
  rateLimitPerSecond: number;
  sources: { source: string; transport: string; count: number; firstSeen: string; lastSeen: string }[];
}

function rate(points: Point[], name: string): number[] {
  return points.map((p, i) => {
    const prev = points[i - 1];
    if (!prev) return 0;
    const dt = (p.t - prev.t) / 1000;
    const d = (p.m.get(name) ?? 0) - (prev.m.get(name) ?? 0);
    // A counter that went down was reset (server restart): count from zero.
    return dt > 0 ? Math.max(0, d < 0 ? (p.m.get(name) ?? 0) : d) / dt : 0;
  });
}

export function HealthPage() {
  const [points, setPoints] = useState<Point[]>([]);
  const [health, setHealth] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [blocked, setBlocked] = useState<Blocked | null>(null);
  const [blockedError, setBlockedError] = useState<string | null>(null);
  const alive = useRef(true);

  useEffect(() => {
    alive.current = true;
    const sample = async () => {
      try {
        const [h, m] = await Promise.all([getJson<Record<string, unknown>>('/healthz'), apiFetch('/metrics').then((r) => r.text())]);
        if (!alive.current) return;
        setHealth(h);
        setError(null);
        setPoints((ps) => [...ps.slice(-(KEEP - 1)), { t: Date.now(), m: parseMetrics(m) }]);
      } catch (err) {
        if (alive.current) setError(errorText(err));
      }
    };
    const report = async () => {
      try {
        const b = await getJson<Blocked>('/v1/reports/blocked?window=15m');
        if (alive.current) {
          setBlocked(b);
          setBlockedError(null);
        }
      } catch (err) {
        if (!alive.current) return;
        setBlockedError(err instanceof ApiError && err.status === 403 ? 'The blocked-sources report needs a token with the admin scope.' : errorText(err));
      }
    };
    sample();
    report();
    const a = setInterval(sample, SAMPLE_MS);
    const b = setInterval(report, 15_000);
    return () => {
      alive.current = false;
      clearInterval(a);
      clearInterval(b);
    };
  }, []);

  const data = useMemo(() => {
    const t = points.map((p) => p.t / 1000);
    return {
      rates: [t, rate(points, 'logsrv_accepted_total'), rate(points, 'logsrv_dropped_total'), rate(points, 'logsrv_rejected_total')] as [
        number[],
        ...number[][],
      ],
      queue: [t, points.map((p) => p.m.get('logsrv_queue_depth') ?? 0)] as [number[], ...number[][]],
      tails: [t, points.map((p) => p.m.get('logsrv_tail_clients') ?? 0)] as [number[], ...number[][]],
    };
  }, [points]);

  const last = points[points.length - 1]?.m;
  return (
    <main className="health-page">
      <h1>Health</h1>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      <dl className="stats">
        <div>
          <dt>status</dt>
          <dd>{health ? String(health.status) : '…'}</dd>
        </div>
        <div>
          <dt>queue depth</dt>
          <dd>{health ? String(health.queueDepth ?? '—') : '…'}</dd>
        </div>
        <div>
          <dt>accepted (total)</dt>
          <dd>{last ? (last.get('logsrv_accepted_total') ?? 0).toLocaleString() : '…'}</dd>
        </div>
        <div>
          <dt>dropped (total)</dt>
          <dd>{last ? (last.get('logsrv_dropped_total') ?? 0).toLocaleString() : '…'}</dd>
        </div>
        <div>
          <dt>tail clients</dt>
          <dd>{last ? (last.get('logsrv_tail_clients') ?? 0).toLocaleString() : '…'}</dd>
        </div>
      </dl>
      <div className="charts">
        <Chart
          title="Events per second"
          series={[
            { label: 'accepted/s', color: '#2f7d32' },
            { label: 'dropped/s', color: '#c62828' },
            { label: 'rejected/s', color: '#ef6c00' },
          ]}
          data={data.rates}
        />
        <Chart title="Queue depth" series={[{ label: 'queued events', color: '#1565c0' }]} data={data.queue} />
        <Chart title="Tail clients" series={[{ label: 'open tails', color: '#6a1b9a' }]} data={data.tails} />
      </div>
      <HealthReports />
      <section aria-labelledby="blocked-head">
        <h2 id="blocked-head">Blocked sources (last 15 min)</h2>
        {blockedError ? <p className="note">{blockedError}</p> : null}
        {blocked && blocked.sources.length === 0 ? (
          <p className="empty">{blocked.rateLimitPerSecond > 0 ? 'No source was rate limited.' : 'Rate limiting is off (--rate-limit 0).'}</p>
        ) : null}
        {blocked && blocked.sources.length > 0 ? (
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">source</th>
                  <th scope="col">transport</th>
                  <th scope="col">refused</th>
                  <th scope="col">first seen</th>
                  <th scope="col">last seen</th>
                </tr>
              </thead>
              <tbody>
                {blocked.sources.map((s) => (
                  <tr key={`${s.transport}:${s.source}`}>
                    <th scope="row">{s.source}</th>
                    <td>{s.transport}</td>
                    <td className="num">{s.count.toLocaleString()}</td>
                    <td>{new Date(s.firstSeen).toLocaleTimeString()}</td>
                    <td>{new Date(s.lastSeen).toLocaleTimeString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>
    </main>
  );
}
