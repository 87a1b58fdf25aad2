/**
 * Reading a session's history in both directions: `after=` pages forwards, `before=` backwards
 * (`GET /v1/sessions/:s/events`). Opening a million-line session at its end, scrolling up, or
 * jumping to a search match needs "the N events before X": one `before=` request.
 *
 * Positions: ids are `<ms>-<seq>` (SPEC §1 recommends that encoding and this server uses it); as
 * one integer they let the window estimate densities and name the cursor just before an id.
 */
import type { StoredEvent } from './api.ts';
import { readEvents } from './api.ts';

// A writer restarts seq at 0 every millisecond; 40 bits leave room for a clock held back for a long time.
const SEQ_BITS = 40n;
const SEQ_MASK = (1n << SEQ_BITS) - 1n;

/** An id's position in id order, as one integer; null when the id is not `<ms>-<seq>`. */
export function idPos(id: string): bigint | null {
  const m = /^(\d{1,16})-(\d{1,15})$/.exec(id);
  if (!m) return null;
  const seq = BigInt(m[2] as string);
  if (seq > SEQ_MASK) return null;
  return (BigInt(m[1] as string) << SEQ_BITS) | seq;
}

/** The cursor that reads from position `pos` on (`after` is exclusive), or null for "from the start". */
function cursorBefore(pos: bigint): string | null {
  const p = pos - 1n;
  if (p < 0n) return null;
  const ms = p >> SEQ_BITS;
  const seq = p & SEQ_MASK;
  return `${ms}-${seq}`;
}

export function compareIds(a: string, b: string): number {
  const pa = idPos(a);
  const pb = idPos(b);
  if (pa === null || pb === null) return a < b ? -1 : a > b ? 1 : 0;
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

export interface BackPage {
  events: StoredEvent[];
  /** The page starts at the session's first event. */
  atStart: boolean;
}

/** The id that names position `pos` (which need not be an event's). */
function idAt(pos: bigint): string {
  return `${pos >> SEQ_BITS}-${pos & SEQ_MASK}`;
}

/**
 * Up to `n` events of `session` with ids before position `until` (exclusive), the latest ones, in
 * one `before=` request. `atStart`: none precede them.
 */
export async function pageBefore(session: string, until: bigint, n: number): Promise<BackPage> {
  const page = await readEvents(session, { before: idAt(until), limit: n });
  return { events: page.events, atStart: (page.prev ?? null) === null };
}

/** The events from `id` on (inclusive), up to n. */
export async function pageFrom(session: string, id: string, n: number): Promise<{ events: StoredEvent[]; atEnd: boolean }> {
  const pos = idPos(id);
  const page = await readEvents(session, { after: pos === null ? null : cursorBefore(pos), limit: n });
  return { events: page.events, atEnd: page.next === null };
}

/** The events after `id` (exclusive), up to n. */
export async function pageAfter(session: string, id: string | null, n: number): Promise<{ events: StoredEvent[]; atEnd: boolean }> {
  const page = await readEvents(session, { after: id, limit: n });
  return { events: page.events, atEnd: page.next === null };
}

export function posAfter(id: string): bigint | null {
  const p = idPos(id);
  return p === null ? null : p + 1n;
}
