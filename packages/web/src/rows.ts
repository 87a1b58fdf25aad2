/**
 * Stored events → the rows of the terminal view, and the step sections they belong to.
 *
 * A section is what one `step.start` … `step.exit` pair frames (the agent sends both around every
 * command, SPEC §4). Rows carry the key of their section so a section can be collapsed. The
 * window is filled in both directions (history pages are prepended), so sections are assigned
 * walking forward for appended events and backward for prepended ones; either way a section
 * keeps the key it got first (the `step.start` id going forward, the `step.exit` id going back).
 *
 * A line the agent sent in pieces (`attrs.partial`: a progress bar redrawn with `\r`, a prompt, a
 * very long line) is one row: a piece is joined to the row before it when that row is an
 * unfinished line of the same stream (or, going back, to the row after it), and the row shows
 * the line as a terminal drew it (screenLine from @logsrv/protocol). A row spans the ids
 * `id`…`lastId`. Pieces of one stream with a line of the other stream between them stay separate
 * rows.
 *
 * Rows carry `k`, the position of their first event counted from an arbitrary origin of the
 * window, and `events`, how many events they hold; the window knows the origin's place in the
 * session when it reached the start or opened at the end, which numbers the lines.
 */
import { outputPiece, screenLine } from '@logsrv/protocol/terminal';
import type { StoredEvent, Value } from './api.ts';
import { compareIds } from './history.ts';

export type RowKind = 'out' | 'err' | 'start' | 'exit' | 'event';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  durationMs: number | null;
  final: boolean;
}

export interface Row {
  /** The first event of the row. */
  id: string;
  /** The last event of the row (a line joined from pieces spans several). */
  lastId: string;
  /** Position of the first event, from the window's origin (see the file comment). */
  k: number;
  events: number;
  /** Output rows: the line as written (pieces joined), and whether it is still unfinished. */
  raw?: string;
  open?: boolean;
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
  /** A step run with `logsrv run --tty`: stdout and stderr came through one terminal. */
  tty?: boolean;
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

/** Whether `row` holds the event `id`. */
export function rowHas(row: Row, id: string | null): boolean {
  if (id === null) return false;
  if (row.id === id) return true;
  return row.lastId !== row.id && compareIds(row.id, id) < 0 && compareIds(id, row.lastId) <= 0;
}

function toRow(e: StoredEvent, k: number): Row {
  const base = { id: e.id, lastId: e.id, k, events: 1, key: e.key, ts: e.ts, step: e.step, level: e.level, section: null };
  switch (e.key) {
    case 'stdout':
    case 'stderr': {
      const p = outputPiece(e);
      return { ...base, kind: e.key === 'stdout' ? 'out' : 'err', raw: p.text, open: p.open, text: screenLine(p.text) };
    }
    case 'step.start': {
      const command = commandOf(e.value);
      const tty = !!e.value && typeof e.value === 'object' && (e.value as Record<string, unknown>).tty === true;
      return { ...base, kind: 'start', text: command ?? valueText(e.value), ...(command ? { command } : {}), ...(tty ? { tty } : {}) };
    }
    case 'step.exit':
      return { ...base, kind: 'exit', text: valueText(e.value), exit: exitOf(e.value) };
    default:
      return { ...base, kind: 'event', text: `${e.key} ${valueText(e.value)}` };
  }
}

/** Whether output event `e` continues the unfinished line of `row`. */
function continues(row: Row | undefined, e: StoredEvent): boolean {
  return row !== undefined && row.open === true && row.key === e.key;
}

/**
 * Rows for events that follow `prev` (the current last row). When the first event continues
 * `prev`'s unfinished line, the first row returned replaces `prev` (same `id`): see appendRows.
 */
export function rowsAfter(prev: Row | undefined, events: StoredEvent[]): Row[] {
  let open: string | null = prev ? (prev.kind === 'exit' ? null : prev.section) : null;
  const out: Row[] = [];
  let last = prev;
  for (const e of events) {
    if (last !== undefined && continues(last, e)) {
      const p = outputPiece(e);
      const raw = (last.raw ?? '') + p.text;
      const merged: Row = { ...last, lastId: e.id, events: last.events + 1, raw, open: p.open, text: screenLine(raw) };
      if (out.length > 0) out[out.length - 1] = merged;
      else out.push(merged);
      last = merged;
      continue;
    }
    const r = toRow(e, last ? last.k + last.events : 0);
    if (r.kind === 'start') {
      open = r.id;
      r.section = open;
    } else if (r.kind === 'exit') {
      r.section = open ?? r.id;
      open = null;
    } else r.section = open;
    out.push(r);
    last = r;
  }
  return out;
}

/** `rows` followed by the rows of `events` (which may finish the last row's line). */
export function appendRows(rows: Row[], events: StoredEvent[]): Row[] {
  const prev = rows[rows.length - 1];
  const add = rowsAfter(prev, events);
  if (prev !== undefined && add[0] !== undefined && add[0].id === prev.id) return rows.slice(0, -1).concat(add);
  return rows.concat(add);
}

/**
 * Rows for events that precede `next` (the current first row). `mergedNext`: the last row
 * returned is `next` with the earlier pieces of its line joined in front (it replaces `next`).
 */
export function rowsBefore(next: Row | undefined, events: StoredEvent[]): { rows: Row[]; mergedNext: boolean } {
  let open: string | null = next ? (next.kind === 'start' ? null : next.section) : null;
  // Built back to front, reversed at the end.
  const rev: Row[] = [];
  let after = next;
  let mergedNext = false;
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i] as StoredEvent;
    const isOutput = e.key === 'stdout' || e.key === 'stderr';
    const p = isOutput ? outputPiece(e) : null;
    if (p?.open && after !== undefined && (after.kind === 'out' || after.kind === 'err') && after.key === e.key) {
      const raw = p.text + (after.raw ?? '');
      const merged: Row = { ...after, id: e.id, ts: e.ts, k: after.k - 1, events: after.events + 1, raw, text: screenLine(raw) };
      if (rev.length > 0) rev[rev.length - 1] = merged;
      else {
        rev.push(merged);
        mergedNext = true;
      }
      after = merged;
      continue;
    }
    const r = toRow(e, (after ? after.k : 0) - 1);
    if (r.kind === 'exit') {
      open = r.id;
      r.section = open;
    } else if (r.kind === 'start') {
      r.section = open ?? r.id;
      open = null;
    } else r.section = open;
    rev.push(r);
    after = r;
  }
  return { rows: rev.reverse(), mergedNext };
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
