/**
 * The job at a glance, above the output: its status (as the sessions list shows it) and how long
 * it ran — from its first event to its last `step.exit` (at least that step's `durationMs`), or,
 * while it runs, until now (ticking).
 */
import { useEffect, useState } from 'react';
import type { SessionSummary, StoredEvent } from './api.ts';
import { clock, duration } from './rows.ts';
import type { SessionStatus } from './status.tsx';

function ms(ts: string | null | undefined): number | null {
  if (!ts) return null;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : t;
}

export function JobSummary({
  summary,
  live,
  status,
  following,
}: {
  summary: SessionSummary | null;
  live: Map<string, StoredEvent>;
  status: SessionStatus | null;
  following: boolean;
}) {
  const running = status?.tone === 'running';
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!running || !following) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [running, following]);
  const start = ms(summary?.first);
  if (!summary || start === null) return null;
  const exit = live.get('step.exit') ?? summary.latest['step.exit'];
  let end: number | null;
  if (running) end = following ? Math.max(now, start) : ms(summary.last);
  else end = ms(exit?.ts) ?? ms(summary.last);
  // At least the last step's own duration (events sent without times of their own share one).
  const lastStep = exit && typeof exit.value === 'object' && exit.value !== null ? (exit.value as { durationMs?: unknown }).durationMs : undefined;
  const took = end === null ? null : Math.max(end - start, !running && typeof lastStep === 'number' ? lastStep : 0);
  const tone = status?.tone ?? 'neutral';
  return (
    <section className={`job-summary ${tone}`} aria-label="Job summary">
      {status ? (
        <span className="job-status">
          <span className="visually-hidden">status: </span>
          {status.label}
        </span>
      ) : null}
      {took !== null ? (
        <span className="job-duration">
          {running ? 'running for ' : 'took '}
          <strong>{duration(Math.max(0, took))}</strong>
        </span>
      ) : null}
      <span className="job-started">started {clock(summary.first as string)}</span>
    </section>
  );
}
