/**
 * Loki push entries as events (README "Shippers", mapping table): the line → `value`, the entry's
 * time → `ts`, key `log`. Labels and structured metadata (metadata wins on a clash) go to `attrs`,
 * except: `session`, `user`, `terminal`, `step` become those fields; `component` comes from the
 * first of the labels `component`, `service_name`, `app`, `job`; `level` from the first of
 * `level`, `detected_level`, `severity`, `lvl` (normalized: `warning` → `warn`, `err`/`ERROR` →
 * `error`, ...). The session fallback (`--loki-session`) sees `labels` (the canonical label set,
 * e.g. `{app="api", env="prod"}`), every label and every metadata name.
 */
import type { Rejection } from '../accept.js';
import type { SessionTemplate } from '../session-template.js';
import type { Candidate } from '../shipper-ingest.js';
import type { PushedStream } from './loki-schema.js';
import { labelsText, parseLabels } from './parse-labels.js';

const FIRST_CLASS = ['session', 'user', 'terminal', 'step'] as const;
const COMPONENT = ['component', 'service_name', 'app', 'job'] as const;
const LEVEL = ['level', 'detected_level', 'severity', 'lvl'] as const;

/** Thrown for a body that is not a Loki push at all: answered 400. */
export class LokiShapeError extends Error {}

export function normalizeLevel(v: string): string {
  const t = v.toLowerCase();
  if (t.startsWith('warn')) return 'warn';
  if (t === 'err' || t.startsWith('error') || t === 'eror') return 'error';
  if (t === 'crit' || t === 'critical' || t === 'fatal' || t === 'emerg' || t === 'alert' || t === 'panic') return 'fatal';
  if (t === 'dbug') return 'debug';
  if (t === 'information' || t === 'notice') return 'info';
  return t.slice(0, 32);
}

/** Loki/JSON's `{"streams":[{"stream":{...},"values":[["<ns>","line",{metadata}?]]}]}` as streams. */
export function jsonStreams(doc: unknown): PushedStream[] {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { streams?: unknown }).streams)) {
    throw new LokiShapeError('body must be {"streams": [...]}');
  }
  return (doc as { streams: unknown[] }).streams.map((s, i) => {
    if (typeof s !== 'object' || s === null) throw new LokiShapeError(`streams[${i}] must be an object`);
    const { stream, values } = s as { stream?: unknown; values?: unknown };
    if (typeof stream !== 'object' || stream === null || Array.isArray(stream)) throw new LokiShapeError(`streams[${i}].stream must be an object of labels`);
    if (!Array.isArray(values)) throw new LokiShapeError(`streams[${i}].values must be an array`);
    return {
      labels: stream as Record<string, unknown>,
      entries: values.map((v) => {
        const [ts, line, meta] = Array.isArray(v) ? v : [];
        const metadata: Record<string, string> = Object.create(null);
        if (typeof meta === 'object' && meta !== null) for (const [k, x] of Object.entries(meta)) if (typeof x === 'string') metadata[k] = x;
        return { ts: nanosText(ts), line: typeof line === 'string' ? line : (undefined as unknown as string), metadata };
      }),
    };
  });
}

/** Epoch ms from Loki/JSON's nanosecond string; NaN when it is not one. */
function nanosText(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d{1,20}$/.test(v)) return Number.NaN;
  return v.length <= 6 ? 0 : Number(v.slice(0, -6));
}

export function lokiCandidates(streams: PushedStream[], template: SessionTemplate): (Candidate | Rejection)[] {
  const out: (Candidate | Rejection)[] = [];
  for (const s of streams) {
    let labels: Record<string, string>;
    let bad: string | undefined;
    if (typeof s.labels === 'string') {
      const p = parseLabels(s.labels);
      if ('error' in p) {
        bad = `stream labels ${JSON.stringify(s.labels.slice(0, 80))}: ${p.error}`;
        labels = {};
      } else labels = p.labels;
    } else {
      labels = Object.create(null);
      for (const [k, v] of Object.entries(s.labels)) {
        if (typeof v === 'string') labels[k] = v;
        else bad = `stream label ${k} must be a string`;
      }
    }
    const canonical = labelsText(labels);
    for (const e of s.entries) {
      if (bad !== undefined) {
        out.push({ reason: 'wrong_type', error: bad });
        continue;
      }
      if (typeof e.line !== 'string') {
        out.push({ reason: 'wrong_type', error: 'entry must be ["<unix ns>", "<line>"] with a string line' });
        continue;
      }
      if (Number.isNaN(e.ts)) {
        out.push({ reason: 'invalid_ts', error: 'entry timestamp must be a string of Unix epoch nanoseconds' });
        continue;
      }
      out.push(candidate(labels, canonical, e.line, e.ts, e.metadata, template));
    }
  }
  return out;
}

function candidate(
  labels: Record<string, string>,
  canonical: string,
  line: string,
  ts: number | undefined,
  metadata: Record<string, string>,
  template: SessionTemplate,
): Candidate {
  const all: Record<string, string> = { ...labels, ...metadata };
  const event: Record<string, unknown> = { key: 'log', value: line };
  if (ts !== undefined) event.ts = ts;
  for (const f of FIRST_CLASS) {
    if (all[f] !== undefined) {
      event[f] = all[f];
      delete all[f];
    }
  }
  const component = COMPONENT.map((k) => labels[k]).find((v) => v !== undefined && v !== '');
  if (component !== undefined) event.component = component;
  const level = LEVEL.map((k) => metadata[k] ?? labels[k]).find((v) => v !== undefined && v !== '');
  if (level !== undefined) event.level = normalizeLevel(level);
  if (Object.keys(all).length > 0) event.attrs = all;
  const fallback = event.session === undefined ? template.resolve((name) => (name === 'labels' ? canonical : (metadata[name] ?? labels[name]))) : undefined;
  return { event, fallback };
}
