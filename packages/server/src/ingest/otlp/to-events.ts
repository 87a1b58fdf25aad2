/**
 * OTLP log records as events (README "Shippers", mapping table). Works on the OTLP/JSON shape,
 * which a decoded protobuf request also has (otlp-schema.ts): `body` → `value` (a string as is, a
 * key/value list as an object, any other value as its JSON text), resource `service.name` →
 * `component`, `severityNumber` → `level` (TRACE…FATAL ranges → trace, debug, info, warn, error,
 * fatal; `severityText` when the number is unset), `timeUnixNano` (else `observedTimeUnixNano`) →
 * `ts`, `eventName` → `key` (else `log`). Log attributes go to `attrs` as they are, with
 * `trace_id`, `span_id`, `severity_text`, `scope` and `resource` (the resource's attributes)
 * beside them. Attributes named `session`, `user`, `terminal` and `step` (on the record, else on
 * the resource) become those event fields, so the registry can resolve `user`/`terminal`.
 *
 * The session fallback (`--otlp-session`) sees `trace_id`, `span_id`, `service.name`, `scope`,
 * and any record or resource attribute by its key.
 */
import type { Rejection } from '../accept.js';
import type { SessionTemplate } from '../session-template.js';
import type { Candidate } from '../shipper-ingest.js';

type Obj = Record<string, unknown>;

const FIRST_CLASS = ['session', 'user', 'terminal', 'step'] as const;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
/** Enum names OTLP/JSON senders may use instead of numbers. */
const SEVERITY_NAMES: Record<string, number> = {
  SEVERITY_NUMBER_TRACE: 1,
  SEVERITY_NUMBER_DEBUG: 5,
  SEVERITY_NUMBER_INFO: 9,
  SEVERITY_NUMBER_WARN: 13,
  SEVERITY_NUMBER_ERROR: 17,
  SEVERITY_NUMBER_FATAL: 21,
};

/** Thrown for a body whose structure is not OTLP at all: answered 400. */
export class OtlpShapeError extends Error {}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpShapeError(`${what} must be an array`);
  return v;
}

/** An AnyValue as JSON: int64 as a number when exact, else its decimal text; bytes as base64. */
export function anyValue(v: unknown, depth = 0): unknown {
  if (!isObj(v) || depth > 32) return null;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if (v.doubleValue !== undefined) {
    const n = Number(v.doubleValue);
    return Number.isFinite(n) ? n : String(v.doubleValue);
  }
  if (isObj(v.arrayValue)) return list(v.arrayValue.values, 'arrayValue.values').map((x) => anyValue(x, depth + 1));
  if (isObj(v.kvlistValue)) return keyValues(v.kvlistValue.values, depth + 1);
  if (v.bytesValue instanceof Uint8Array) return Buffer.from(v.bytesValue).toString('base64');
  if (typeof v.bytesValue === 'string') return v.bytesValue;
  return null;
}

export function keyValues(v: unknown, depth = 0): Obj {
  const out: Obj = Object.create(null);
  for (const kv of list(v, 'attributes')) {
    if (isObj(kv) && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value, depth);
  }
  return out;
}

/** OTLP/JSON gives ids in hex; protobuf gives bytes. Empty (all-zero or absent) is none. */
function hexId(v: unknown): string | undefined {
  let hex: string | undefined;
  if (typeof v === 'string') hex = v.toLowerCase();
  else if (v instanceof Uint8Array) hex = Buffer.from(v).toString('hex');
  return hex && /[^0]/.test(hex) ? hex : undefined;
}

/** Epoch ms of a nanosecond count (decimal text or number); undefined for 0 or absent. */
function nanosToMs(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const text = typeof v === 'number' ? BigInt(Math.trunc(v)).toString() : String(v);
  if (!/^\d{1,20}$/.test(text) || /^0+$/.test(text)) return undefined;
  return text.length <= 6 ? 0 : Number(text.slice(0, -6));
}

function level(record: Obj): string | undefined {
  let n = record.severityNumber;
  if (typeof n === 'string') n = SEVERITY_NAMES[n.replace(/\d+$/, '')] ?? Number(n);
  if (typeof n === 'number' && n >= 1 && n <= 24) return LEVELS[Math.floor((n - 1) / 4)];
  const text = typeof record.severityText === 'string' ? record.severityText.toLowerCase() : '';
  if (text === '') return undefined;
  if (text.startsWith('warn')) return 'warn';
  if (text === 'err' || text.startsWith('error')) return 'error';
  if (text === 'critical' || text === 'crit' || text === 'emerg' || text === 'alert') return 'fatal';
  return text.slice(0, 32);
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Every log record of an ExportLogsServiceRequest, in order, as a candidate event or a rejection. */
export function otlpCandidates(req: unknown, template: SessionTemplate): (Candidate | Rejection)[] {
  if (!isObj(req)) throw new OtlpShapeError('body must be an ExportLogsServiceRequest object');
  const out: (Candidate | Rejection)[] = [];
  for (const rl of list(req.resourceLogs, 'resourceLogs')) {
    if (!isObj(rl)) throw new OtlpShapeError('resourceLogs[] must hold objects');
    const resource = isObj(rl.resource) ? keyValues(rl.resource.attributes) : Object.create(null);
    const service = str(resource['service.name']);
    for (const sl of list(rl.scopeLogs, 'scopeLogs')) {
      if (!isObj(sl)) throw new OtlpShapeError('scopeLogs[] must hold objects');
      const scope = isObj(sl.scope) && typeof sl.scope.name === 'string' && sl.scope.name !== '' ? sl.scope.name : undefined;
      for (const r of list(sl.logRecords, 'logRecords')) {
        if (!isObj(r)) {
          out.push({ reason: 'not_object', error: 'log record must be an object' });
          continue;
        }
        out.push(candidate(r, resource, service, scope, template));
      }
    }
  }
  return out;
}

function candidate(r: Obj, resource: Obj, service: string | undefined, scope: string | undefined, template: SessionTemplate): Candidate | Rejection {
  let attributes: Obj;
  try {
    attributes = keyValues(r.attributes);
  } catch (err) {
    return { reason: 'wrong_type', error: (err as Error).message };
  }
  const event: Obj = { key: typeof r.eventName === 'string' && r.eventName !== '' ? r.eventName : 'log' };
  for (const f of FIRST_CLASS) {
    const v = str(attributes[f]) ?? str(resource[f]);
    if (v !== undefined) {
      event[f] = v;
      delete attributes[f];
    }
  }
  const body = r.body === undefined ? '' : anyValue(r.body);
  event.value = typeof body === 'string' || typeof body === 'number' || typeof body === 'boolean' || isObj(body) ? body : JSON.stringify(body);
  const ts = nanosToMs(r.timeUnixNano) ?? nanosToMs(r.observedTimeUnixNano);
  if (ts !== undefined) event.ts = ts;
  if (service !== undefined) event.component = service;
  const lvl = level(r);
  if (lvl !== undefined) event.level = lvl;
  const traceId = hexId(r.traceId);
  const spanId = hexId(r.spanId);
  const attrs: Obj = { ...attributes };
  if (traceId) attrs.trace_id = traceId;
  if (spanId) attrs.span_id = spanId;
  if (typeof r.severityText === 'string' && r.severityText !== '') attrs.severity_text = r.severityText;
  if (scope) attrs.scope = scope;
  if (Object.keys(resource).length > 0) attrs.resource = { ...resource };
  event.attrs = attrs;
  const fallback =
    event.session === undefined
      ? template.resolve((name) => {
          if (name === 'trace_id') return traceId;
          if (name === 'span_id') return spanId;
          if (name === 'scope') return scope;
          return str(attributes[name]) ?? str(resource[name]);
        })
      : undefined;
  return { event, fallback };
}
