/**
 * From one parsed JSON value to a storable event or a reason. Shared by every transport so a
 * line means the same over HTTP, NDJSON and UDP.
 */
import type { NormalizedEvent, RejectReason } from '@logsrv/protocol';
import { normalizeEvent, validateEvent } from '@logsrv/protocol';

export interface Rejection {
  reason: RejectReason;
  error: string;
}

export type Accepted = NormalizedEvent | Rejection;

export function isRejection(a: Accepted): a is Rejection {
  return (a as Rejection).reason !== undefined;
}

/** Resolves the session of an event that has none (SPEC §5); the registry plugs in here. */
export type SessionResolver = (user: string | undefined, terminal: string | undefined) => string | undefined;

export function acceptValue(value: unknown, resolve?: SessionResolver): Accepted {
  const v = validateEvent(value);
  if (!v.ok) return { reason: v.reason, error: v.error };
  const e = v.event;
  let session = e.session;
  if (session === undefined || session === '') {
    session = resolve?.(e.user, e.terminal);
    if (!session) {
      return {
        reason: 'unresolved_session',
        error: "event has no 'session', and none is registered for its 'user' or 'terminal'",
      };
    }
  }
  return normalizeEvent(e, session);
}

/** Parses one line of JSON text; JSON syntax errors become `invalid_json` with the parser's words. */
export function acceptLine(text: string, resolve?: SessionResolver): Accepted {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { reason: 'invalid_json', error: `invalid JSON: ${(err as Error).message}` };
  }
  return acceptValue(parsed, resolve);
}
