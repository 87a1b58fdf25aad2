/**
 * The event (SPEC §1, contract): one TypeBox definition gives the TypeScript type, the JSON
 * Schema (served and documented) and a compiled validator with per-field errors.
 */
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import type { RejectReason } from './errors.js';
import { MAX_FIELD_CHARS } from './limits.js';

/** Longest session/key/metadata string, in characters (SPEC §1). */
export { MAX_FIELD_CHARS };
/** Most keys in `attrs`. */
export const MAX_ATTRS = 64;
/** Deepest nesting of objects/arrays in `value` or `attrs` (1 = a flat object). */
export const MAX_DEPTH = 32;

const Field = Type.String({ maxLength: MAX_FIELD_CHARS });

export const EventSchema = Type.Object(
  {
    session: Type.Optional(Field),
    key: Field,
    value: Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Object({})]),
    ts: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 })])),
    component: Type.Optional(Field),
    user: Type.Optional(Field),
    terminal: Type.Optional(Field),
    step: Type.Optional(Field),
    level: Type.Optional(Field),
    attrs: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    producer: Type.Optional(Field),
    seq: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** An event as a producer sends it. */
export type EventInput = Type.Static<typeof EventSchema>;

/** An event as the service returns it: the input plus `id` and `received`, `ts` normalized. */
export interface StoredEvent {
  id: string;
  session: string;
  key: string;
  value: string | number | boolean | Record<string, unknown>;
  ts: string;
  received: string;
  component?: string;
  user?: string;
  terminal?: string;
  step?: string;
  level?: string;
  attrs?: Record<string, unknown>;
  producer?: string;
  seq?: number;
}

/**
 * An accepted event on its way to the store: validated, `ts` resolved to epoch ms, `value` and
 * `attrs` serialized once on the receiver so the writer thread only binds strings.
 * `vjson` is 1 when `value` holds JSON text (number, boolean, object), 0 for a plain string.
 */
export interface NormalizedEvent {
  session: string;
  key: string;
  value: string;
  vjson: 0 | 1;
  /** Producer time in epoch ms; null when the producer sent none (then `ts` reads as `received`). */
  ts: number | null;
  component: string | null;
  user: string | null;
  terminal: string | null;
  step: string | null;
  level: string | null;
  attrs: string | null;
  producer: string | null;
  pseq: number | null;
}

const validator = Compile(EventSchema);

export type ValidationResult = { ok: true; event: EventInput } | { ok: false; reason: RejectReason; error: string };

const FIELD_TYPES: Record<string, string> = {
  value: 'a string, number, boolean or object',
  ts: 'an RFC 3339 string or epoch milliseconds (a non-negative integer)',
  attrs: 'an object',
  seq: 'a non-negative integer',
};

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Validates one parsed JSON value as an event. The common event is accepted by a one-pass check
 * ({@link plainlyValid}); any other goes to the compiled schema, and only invalid events pay for
 * error collection, which is turned into one precise message and a stable reason.
 * `session` presence is not checked here: enrichment (SPEC §5) may still supply it.
 */
export function validateEvent(value: unknown): ValidationResult {
  if (plainlyValid(value)) return { ok: true, event: value };
  return validateBySchema(value);
}

/**
 * {@link validateEvent} without its fast path: the compiled schema, then {@link checkShape}.
 * Exported for the tests that hold the fast path to it.
 */
export function validateBySchema(value: unknown): ValidationResult {
  if (validator.Check(value)) return checkShape(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not_object', error: `event must be a JSON object, got ${typeName(value)}` };
  }
  const obj = value as Record<string, unknown>;
  const errors = validator.Errors(value);
  const seen = new Set<string>();
  const messages: string[] = [];
  let reason: RejectReason | undefined;
  const add = (r: RejectReason, field: string, msg: string) => {
    if (seen.has(field)) return;
    seen.add(field);
    reason ??= r;
    messages.push(msg);
  };
  for (const e of errors) {
    const field = e.instancePath.split('/')[1] ?? '';
    if (e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')) {
      add('unknown_field', field, `unknown field '${field}' (put extra metadata in 'attrs')`);
    } else if (e.keyword === 'required') {
      const params = e.params as { requiredProperties?: string[] };
      for (const f of params.requiredProperties ?? []) add('missing_field', f, `missing required field '${f}'`);
    } else if (e.keyword === 'additionalProperties') {
      const params = e.params as { additionalProperties?: string[] };
      for (const f of params.additionalProperties ?? []) {
        add('unknown_field', f, `unknown field '${f}' (put extra metadata in 'attrs')`);
      }
    } else if (e.keyword === 'maxLength' && field) {
      const v = obj[field];
      const len = typeof v === 'string' ? v.length : 0;
      const limit = (e.params as { limit?: number }).limit ?? MAX_FIELD_CHARS;
      add('too_long', field, `field '${field}' is ${len} characters, limit ${limit}`);
    } else if (field && field !== '' && e.instancePath.split('/').length === 2) {
      const want = FIELD_TYPES[field] ?? 'a string';
      add('wrong_type', field, `field '${field}' must be ${want}, got ${typeName(obj[field])}`);
    }
  }
  if (!reason) {
    reason = 'wrong_type';
    messages.push(errors[0]?.message ?? 'invalid event');
  }
  return { ok: false, reason, error: messages.join('; ') };
}

/**
 * The common event, checked in one pass over its keys: every field of the schema's type, its
 * strings at most MAX_FIELD_CHARS code units, `attrs` and `value` within MAX_ATTRS and MAX_DEPTH.
 * True only for an event that the schema and {@link checkShape} accept; false means "ask them" (an
 * unknown field, a wrong type, a string longer in code units than the limit is in code points, an
 * object that is not a plain one), so it can only skip work, not change an answer. It sees the
 * keys `for…in` sees: every key of what JSON.parse or an object literal makes (a property made
 * non-enumerable by hand is not seen, as JSON.stringify does not send it either). The compiled
 * schema check lists the keys, tests each against a pattern and copies `attrs` into entries; the
 * ingest of every transport runs this once per event (UDP on its receive thread).
 */
export function plainlyValid(v: unknown): v is EventInput {
  if (!plainObject(v)) return false;
  const o = v;
  let required = 0;
  for (const k in o) {
    const x = o[k];
    switch (k) {
      case 'key':
        required++;
        if (!shortString(x, MAX_FIELD_CHARS)) return false;
        break;
      case 'value':
        required++;
        if (typeof x === 'string' || typeof x === 'boolean') break;
        if (typeof x === 'number') {
          if (!Number.isFinite(x)) return false;
          break;
        }
        if (!plainObject(x) || !shallowerThan(x, 1)) return false;
        break;
      case 'session':
      case 'component':
      case 'user':
      case 'terminal':
      case 'step':
      case 'level':
      case 'producer':
        if (!shortString(x, MAX_FIELD_CHARS)) return false;
        break;
      case 'ts':
        if (!shortString(x, 64) && !naturalNumber(x)) return false;
        break;
      case 'seq':
        if (!naturalNumber(x)) return false;
        break;
      case 'attrs': {
        if (!plainObject(x)) return false;
        let n = 0;
        for (const _ in x) n++;
        if (n > MAX_ATTRS || !shallowerThan(x, 1)) return false;
        break;
      }
      default:
        return false;
    }
  }
  return required === 2;
}

function shortString(x: unknown, max: number): boolean {
  return typeof x === 'string' && x.length <= max;
}

function naturalNumber(x: unknown): boolean {
  return Number.isInteger(x) && (x as number) >= 0;
}

function plainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;
}

/**
 * `x` (at depth `d`, 1 for a field's own value) nests at most MAX_DEPTH levels. Recursive, but a
 * hostile depth cannot overflow the stack: the walk stops at MAX_DEPTH + 1.
 */
function shallowerThan(x: unknown, d: number): boolean {
  if (d > MAX_DEPTH) return false;
  if (Array.isArray(x)) {
    for (const y of x) if (typeof y === 'object' && y !== null && !shallowerThan(y, d + 1)) return false;
    return true;
  }
  const o = x as Record<string, unknown>;
  for (const k in o) {
    const y = o[k];
    if (typeof y === 'object' && y !== null && !shallowerThan(y, d + 1)) return false;
  }
  return true;
}

/** Limits the schema cannot say: attrs count and nesting depth (deep JSON would overflow the stack later). */
function checkShape(e: EventInput): ValidationResult {
  if (e.attrs !== undefined) {
    const n = Object.keys(e.attrs).length;
    if (n > MAX_ATTRS) return { ok: false, reason: 'too_long', error: `field 'attrs' has ${n} keys, limit ${MAX_ATTRS}` };
    if (!shallowerThan(e.attrs, 1)) return { ok: false, reason: 'too_deep', error: `field 'attrs' nests deeper than ${MAX_DEPTH} levels` };
  }
  if (typeof e.value === 'object' && !shallowerThan(e.value, 1))
    return { ok: false, reason: 'too_deep', error: `field 'value' nests deeper than ${MAX_DEPTH} levels` };
  return { ok: true, event: e };
}

// RFC 3339 date-time (section 5.6), e.g. 2026-11-22T10:00:00.123Z or ...+02:00.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Resolves `ts` to epoch ms; `undefined` means "use receive time"; NaN means invalid. */
export function parseTs(ts: string | number | undefined): number | undefined {
  if (ts === undefined) return undefined;
  if (typeof ts === 'number') return Number.isSafeInteger(ts) ? ts : Number.NaN;
  if (!RFC3339.test(ts)) return Number.NaN;
  return Date.parse(ts);
}

/**
 * Turns a valid event into its storage form. `session` must already be resolved. Returns a
 * rejection for a `ts` that passes the schema but is not a real RFC 3339 time.
 */
export function normalizeEvent(e: EventInput, session: string): NormalizedEvent | { reason: RejectReason; error: string } {
  const ts = parseTs(e.ts);
  if (ts !== undefined && Number.isNaN(ts)) {
    return { reason: 'invalid_ts', error: `field 'ts' must be an RFC 3339 date-time or epoch milliseconds, got ${JSON.stringify(e.ts)}` };
  }
  const isString = typeof e.value === 'string';
  return {
    session,
    key: e.key,
    value: isString ? (e.value as string) : JSON.stringify(e.value),
    vjson: isString ? 0 : 1,
    ts: ts ?? null,
    component: e.component ?? null,
    user: e.user ?? null,
    terminal: e.terminal ?? null,
    step: e.step ?? null,
    level: e.level ?? null,
    attrs: e.attrs === undefined ? null : JSON.stringify(e.attrs),
    producer: e.producer ?? null,
    pseq: e.seq ?? null,
  };
}
