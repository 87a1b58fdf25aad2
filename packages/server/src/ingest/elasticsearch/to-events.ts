/**
 * Bulk documents as events (README "Shippers", mapping table): `message` (else `log`, else the
 * whole document) → `value`, `@timestamp` (RFC 3339 or epoch ms) → `ts`, `service.name` (else
 * `app`) → `component`, `log.level` (else `level`) → `level`, key `log`. Top-level `session`,
 * `user`, `terminal`, `step` become those fields; every other field stays in `attrs`, with the
 * index as `attrs._index`. Dotted names (`"log.level"`) and objects (`{"log": {"level": ...}}`) are
 * both read. The session fallback (`--elasticsearch-session`) sees `_index`, `_id` and any field by
 * its dotted path (`host.name`).
 */
import type { Rejection } from '../accept.js';
import { normalizeLevel } from '../loki/to-events.js';
import type { SessionTemplate } from '../session-template.js';
import type { Candidate } from '../shipper-ingest.js';

const FIRST_CLASS = ['session', 'user', 'terminal', 'step'] as const;

/** A field by dotted path, from dotted keys or nested objects. */
export function field(doc: Record<string, unknown>, path: string): unknown {
  if (path in doc) return doc[path];
  const dot = path.indexOf('.');
  if (dot === -1) return undefined;
  const head = doc[path.slice(0, dot)];
  return typeof head === 'object' && head !== null && !Array.isArray(head) ? field(head as Record<string, unknown>, path.slice(dot + 1)) : undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function bulkCandidate(doc: Record<string, unknown>, index: string | undefined, id: string, template: SessionTemplate): Candidate | Rejection {
  const rest: Record<string, unknown> = { ...doc };
  const event: Record<string, unknown> = { key: 'log' };
  const ts = doc['@timestamp'];
  if (ts !== undefined) {
    const ms = typeof ts === 'number' ? Math.trunc(ts) : typeof ts === 'string' ? (/^\d+$/.test(ts) ? Number(ts) : Date.parse(ts)) : Number.NaN;
    if (!Number.isSafeInteger(ms) || ms < 0) return { reason: 'invalid_ts', error: `failed to parse field [@timestamp] of type [date]: ${JSON.stringify(ts)}` };
    event.ts = ms;
    delete rest['@timestamp'];
  }
  if (typeof doc.message === 'string') {
    event.value = doc.message;
    delete rest.message;
  } else if (typeof doc.log === 'string') {
    event.value = doc.log;
    delete rest.log;
  } else {
    event.value = rest;
  }
  for (const f of FIRST_CLASS) {
    const v = str(doc[f]);
    if (v !== undefined) {
      event[f] = v;
      delete rest[f];
    }
  }
  const component = str(field(doc, 'service.name')) ?? str(doc.app);
  if (component !== undefined) event.component = component;
  const level = str(field(doc, 'log.level')) ?? str(doc.level);
  if (level !== undefined) event.level = normalizeLevel(level);
  if (event.value !== rest) {
    if (index !== undefined) rest._index = index;
    event.attrs = rest;
  }
  const fallback =
    event.session === undefined
      ? template.resolve((name) => {
          if (name === '_index') return index;
          if (name === '_id') return id;
          return str(field(doc, name));
        })
      : undefined;
  return { event, fallback };
}
