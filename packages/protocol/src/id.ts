/**
 * Event ids and cursors.
 *
 * Contract (SPEC §1): an id is an opaque string; within a session ids strictly increase in the
 * order events were accepted, and `after=<id>` resumes exactly after that event. The encoding is
 * `<ms>-<seq>` — the shape of a Redis Stream id — where `ms` is the receive time in epoch
 * milliseconds (it names the day partition) and `seq` orders events accepted in the same
 * millisecond. Ids are assigned by the single writer, so they also increase across sessions.
 */
export interface EventId {
  readonly ms: number;
  readonly seq: number;
}

const ID_RE = /^(\d{1,15})-(\d{1,15})$/;

/** Parses `<ms>-<seq>`; returns null for anything else (callers turn that into LOGSRV_ERR_BAD_CURSOR). */
export function parseId(text: string): EventId | null {
  const m = ID_RE.exec(text);
  if (!m) return null;
  const ms = Number(m[1]);
  const seq = Number(m[2]);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) return null;
  return { ms, seq };
}

export function formatId(id: EventId): string {
  return `${id.ms}-${id.seq}`;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareIds(a: EventId, b: EventId): number {
  return a.ms === b.ms ? a.seq - b.seq : a.ms - b.ms;
}

/** The UTC day partition an id belongs to, as `YYYYMMDD`. */
export function dayOf(ms: number): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return `${y}${m < 10 ? '0' : ''}${m}${day < 10 ? '0' : ''}${day}`;
}

/** Epoch ms of 00:00:00.000 UTC of a `YYYYMMDD` day. */
export function dayStartMs(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
}
