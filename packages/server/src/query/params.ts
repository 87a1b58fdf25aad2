/** Query-string parsing with precise errors: every bad parameter names itself and what is allowed. */
import type { EventId } from '@logsrv/protocol';
import { LogsrvError, parseId, parseTs } from '@logsrv/protocol';

export type Query = Record<string, string | string[] | undefined>;

export function str(q: Query, name: string, maxLen = 256): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter '${name}' given more than once`);
  if (v.length > maxLen) throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter '${name}' is ${v.length} characters, limit ${maxLen}`);
  return v;
}

export function cursor(q: Query, name: string): EventId | null {
  const v = str(q, name, 64);
  if (v === undefined || v === '') return null;
  const id = parseId(v);
  if (!id) throw new LogsrvError('LOGSRV_ERR_BAD_CURSOR', `parameter '${name}' is not an event id: ${JSON.stringify(v)} (ids look like 1763805600000-0)`);
  return id;
}

export function int(q: Query, name: string, dflt: number, min: number, max: number): number {
  const v = str(q, name, 32);
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter '${name}' must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function oneOf<T extends string>(q: Query, name: string, allowed: readonly T[], dflt: T): T {
  const v = str(q, name, 32);
  if (v === undefined || v === '') return dflt;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter '${name}' must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/**
 * A point in time: an RFC 3339 date-time (`2026-11-22T10:00:00Z`, `...+02:00`) or epoch
 * milliseconds. Returns epoch ms, or undefined when the parameter is absent or empty.
 */
export function time(q: Query, name: string): number | undefined {
  const v = str(q, name, 64);
  if (v === undefined || v === '') return undefined;
  const ms = /^\d{1,15}$/.test(v) ? Number(v) : parseTs(v);
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0) {
    throw new LogsrvError(
      'LOGSRV_ERR_BAD_PARAM',
      `parameter '${name}' must be an RFC 3339 date-time (2026-11-22T10:00:00Z) or epoch milliseconds, got ${JSON.stringify(v)}`,
    );
  }
  return ms;
}

/** Refuses parameters not in `known`: a mistyped filter (`sesion=`) would otherwise match everything. */
export function onlyKnown(q: Query, known: readonly string[], what: string): void {
  for (const name of Object.keys(q)) {
    if (!known.includes(name)) {
      throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `unknown parameter '${name}' for ${what} (known: ${[...known].sort().join(', ')})`);
    }
  }
}
