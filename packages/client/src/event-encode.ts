/**
 * From whatever the caller passed to `event()` to one line of JSON, or the reason it cannot be
 * sent. The checks are the server's (SPEC §1, `validateEvent` from @logsrv/protocol), so an event
 * the client sends is one the server accepts, and a bad one is counted at the source with the same
 * reason the server would give — without a round trip, and over UDP where the server cannot answer.
 *
 * Never throws: a circular value, a BigInt or a getter that throws becomes `not_serializable`.
 */
import type { EventInput } from '@logsrv/protocol';
import { formatBytes, parseTs, validateEvent } from '@logsrv/protocol';
import type { ClientDropReason } from './event-stats.js';

/** An event as application code gives it: `ts` may also be a Date. */
export type ClientEvent = Omit<EventInput, 'ts' | 'producer' | 'seq'> & { ts?: string | number | Date };

/** Fields merged into every event (the event's own win; `attrs` are merged key by key). */
export type EventDefaults = Partial<Pick<ClientEvent, 'session' | 'component' | 'user' | 'terminal' | 'step' | 'level' | 'attrs'>>;

export interface EncodedEvent {
  /** The event as one line of JSON (no newline). */
  json: string;
  /** UTF-8 length of `json`. */
  bytes: number;
  /** The caller set `producer` itself: the HTTP sender must not stamp its own. */
  ownProducer: boolean;
}

export interface EncodeFailure {
  reason: ClientDropReason;
  message: string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withDefaults(input: Record<string, unknown>, defaults: EventDefaults | undefined): Record<string, unknown> {
  let ev = input;
  if (defaults) {
    // Object.assign, not spread: the compiled validator ran ~15× slower on `{...a, ...b}` objects
    // here (Node 20), which made defaults the most expensive part of event().
    ev = Object.assign({}, defaults, input);
    if (isPlainObject(defaults.attrs) && isPlainObject(input.attrs)) ev.attrs = Object.assign({}, defaults.attrs, input.attrs);
  }
  if (ev.ts instanceof Date) ev = Object.assign({}, ev, { ts: ev.ts.getTime() });
  return ev;
}

export function encodeEvent(input: unknown, defaults: EventDefaults | undefined, maxEventBytes: number): EncodedEvent | EncodeFailure {
  let json: string;
  let ownProducer = false;
  try {
    const ev = isPlainObject(input) ? withDefaults(input, defaults) : input;
    const v = validateEvent(ev);
    if (!v.ok) return { reason: v.reason, message: v.error };
    const e = v.event;
    if (!e.session && !e.user && !e.terminal) {
      return { reason: 'unresolved_session', message: "event has no 'session' (nor a 'user' or 'terminal' the server could resolve it from)" };
    }
    const ts = parseTs(e.ts);
    if (ts !== undefined && Number.isNaN(ts)) {
      return { reason: 'invalid_ts', message: `field 'ts' must be an RFC 3339 date-time, epoch milliseconds or a valid Date, got ${String(e.ts)}` };
    }
    ownProducer = e.producer !== undefined;
    json = JSON.stringify(e);
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n', 1)[0];
    return { reason: 'not_serializable', message: `event cannot be serialized as JSON: ${why}` };
  }
  // The exact UTF-8 size: the UDP sender packs datagrams by it and the buffer bound counts it.
  const bytes = Buffer.byteLength(json);
  if (bytes > maxEventBytes) {
    return { reason: 'line_too_large', message: `event is ${formatBytes(bytes)} as JSON, limit ${formatBytes(maxEventBytes)} (maxEventBytes)` };
  }
  return { json, bytes, ownProducer };
}
