/**
 * Stored events → the rows of the terminal view, and the step sections they belong to.
 *
 * A section is what one `step.start` … `step.exit` pair frames (the agent sends both around every
 * command, SPEC §4). Rows carry the key of their section so a section can be collapsed. The
 * window is filled in both directions (history pages are prepended), so sections are assigned
 * walking forward for appended events and backward for prepended ones; either way a section
 * keeps the key it got first (the `step.start` id going forward, the `step.exit` id going back).
 */
import type { StoredEvent, Value } from './api.ts';

export type RowKind = 'out' | 'err' | 'start' | 'exit' | 'event';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  durationMs: number | null;
  final: boolean;
}

export interface Row {
  id: string;
  kind: RowKind;
  key: string;
  /** What the terminal shows: the value itself for output, `key value` for other events. */
  text: string;
  ts: string;
  step: string | undefined;
  level: string | undefined;
  /** Section key, or null outside any step. */
  section: string | null;
  exit?: ExitInfo;
  command?: string;
}

export function valueText(v: Value): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function exitOf(v: Value): ExitInfo {
  const o = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  return {
    code: typeof o.code === 'number' ? o.code : null,
    signal: typeof o.signal === 'string' ? o.signal : null,
    durationMs: typeof o.durationMs === 'number' ? o.durationMs : null,
    final: o.final === true,
  };
}

function commandOf(v: Value): string | undefined {
  if (!v || typeof v !== 'object') return typeof v === 'string' ? v : undefined;
  const c = (v as Record<string, unknown>).command;
  return Array.isArray(c) ? c.map(String).join(' ') : typeof c === 'string' ? c : undefined;
}

function toRow(e: StoredEvent): Row {
  const base = { id: e.id, key: e.key, ts: e.ts, step: e.step, level: e.level, section: null };
  switch (e.key) {
    case 'stdout':
      return { ...base, kind: 'out', text: valueText(e.value) };
    case 'stderr':
      return { ...base, kind: 'err', text: valueText(e.value) };
    case 'step.start': {
      const command = commandOf(e.value);
      return { ...base, kind: 'start', text: command ?? valueText(e.value), ...(command ? { command } : {}) };
    }
    case 'step.exit':
      return { ...base, kind: 'exit', text: valueText(e.value), exit: exitOf(e.value) };
    default:
      return { ...base, kind: 'event', text: `${e.key} ${valueText(e.value)}` };
  }
}

/** Rows for events that follow `prev` (the current last row). */
export function rowsAfter(prev: Row | undefined, events: StoredEvent[]): Row[] {
  let open: string | null = prev ? (prev.kind === 'exit' ? null : prev.section) : null;
  const out: Row[] = [];
  for (const e of events) {
    const r = toRow(e);
    if (r.kind === 'start') {
      open = r.id;
      r.section = open;
    } else if (r.kind === 'exit') {
      r.section = open ?? r.id;
      open = null;
    } else r.section = open;
    out.push(r);
  }
  return out;
}

/** Rows for events that precede `next` (the current first row). */
export function rowsBefore(next: Row | undefined, events: StoredEvent[]): Row[] {
  let open: string | null = next ? (next.kind === 'start' ? null : next.section) : null;
  const out: Row[] = new Array(events.length);
  for (let i = events.length - 1; i >= 0; i--) {
    const r = toRow(events[i] as StoredEvent);
    if (r.kind === 'exit') {
      open = r.id;
      r.section = open;
    } else if (r.kind === 'start') {
      r.section = open ?? r.id;
      open = null;
    } else r.section = open;
    out[i] = r;
  }
  return out;
}

/** `12.3 s`, `850 ms`, `2 min 5 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function exitLabel(x: ExitInfo): string {
  if (x.signal) return `killed by ${x.signal}`;
  return x.code === null ? 'exited' : `exit ${x.code}`;
}

/** `14:03:07.123` in local time. */
export function clock(ts: string): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
