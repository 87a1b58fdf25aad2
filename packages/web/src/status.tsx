/** A session's status, from the latest `status` value or the latest `step.exit` (SPEC §3 summaries). */
import type { LatestValue, SessionSummary, StoredEvent, Value } from './api.ts';
import { compareIds } from './history.ts';
import { valueText } from './rows.ts';

export interface SessionStatus {
  label: string;
  tone: 'ok' | 'fail' | 'running' | 'neutral';
}

function fromExit(v: Value): SessionStatus {
  const o = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  if (typeof o.signal === 'string') return { label: `killed (${o.signal})`, tone: 'fail' };
  if (typeof o.code === 'number') return o.code === 0 ? { label: 'exit 0', tone: 'ok' } : { label: `exit ${o.code}`, tone: 'fail' };
  return { label: 'exited', tone: 'neutral' };
}

function fromStatus(v: Value): SessionStatus {
  const text = valueText(v);
  const s = text.toLowerCase();
  const tone = /^(ok|success|succeeded|passed|done|green)$/.test(s)
    ? 'ok'
    : /^(fail|failed|failure|error|red|broken|cancel+ed|aborted)$/.test(s)
      ? 'fail'
      : /^(running|started|pending|queued|building|in.progress)$/.test(s)
        ? 'running'
        : 'neutral';
  return { label: text.length > 40 ? `${text.slice(0, 39)}…` : text, tone };
}

/** The newer of `status` and `step.exit`; `running` after a `step.start` with no exit after it. */
export function sessionStatus(summary: SessionSummary | null, live?: Map<string, StoredEvent>): SessionStatus | null {
  const latest: Record<string, LatestValue> = { ...(summary?.latest ?? {}) };
  if (live) for (const [k, e] of live) latest[k] = { id: e.id, ts: e.ts, value: e.value };
  const pick = (k: string) => latest[k];
  const status = pick('status');
  const exit = pick('step.exit');
  const start = pick('step.start');
  const newest = [status, exit, start].filter((x): x is LatestValue => x !== undefined).sort((a, b) => compareIds(b.id, a.id))[0];
  if (!newest) return null;
  if (newest === status) return fromStatus(newest.value);
  if (newest === exit) return fromExit(newest.value);
  return { label: 'running', tone: 'running' };
}

export function StatusBadge({ status }: { status: SessionStatus | null }) {
  if (!status) return null;
  return <span className={`badge status ${status.tone}`}>{status.label}</span>;
}
