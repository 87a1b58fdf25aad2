/**
 * Reading a session's history backwards with an API that only pages forwards
 * (`GET /v1/sessions/:s/events?after=&limit=`).
 *
 * Opening a million-line session at its end, scrolling up, or jumping to a search match needs
 * "the N events before id X". Ids are `<ms>-<seq>` (SPEC §1 recommends that encoding and this
 * server uses it) and `after` accepts any id, so a cursor can be placed anywhere in id order: we
 * guess a cursor C before X, read N+1 events after it, and
 *  - if the read reaches X with at least N/4 events before it, those are the page;
 *  - if it does not reach X, there are more than N events in (C, X): move C later (bisect);
 *  - if it reaches X with too few, move C earlier (exponential, then bisect).
 * Each step is one request of ≤ N+1 rows; a few steps usually suffice. If ids are not in that form
 * (another store), we fall back to reading forward from the start.
 */
import type { StoredEvent } from './api.ts';
import { readEvents } from './api.ts';

const SEQ_BITS = 24n;
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

/**
 * Up to `n` events of `session` with ids before position `until` (exclusive), the latest ones.
 * `density` (events per position unit, from what is already loaded) only speeds up the first guess;
 * `firstPos` (the session's first id) ends the search early at the start.
 */
export async function pageBefore(session: string, until: bigint, n: number, hint: { density?: number; firstPos?: bigint | null } = {}): Promise<BackPage> {
  const { density, firstPos } = hint;
  let lo: bigint | null = null; // a start with more than n events before `until`
  let hi = until; // a start with too few
  const first = density && density > 0 ? BigInt(Math.ceil(n / density)) : BigInt(n);
  let dist = first > 0n ? first : 1n;
  let start = until - dist;
  let best: BackPage | null = null;
  for (let step = 0; step < 48; step++) {
    const fromStart = start <= 0n || (firstPos !== undefined && firstPos !== null && start <= firstPos);
    const after = fromStart ? null : cursorBefore(start);
    const page = await readEvents(session, { after, limit: n + 1 });
    const before = page.events.filter((e) => {
      const p = idPos(e.id);
      return p !== null && p < until;
    });
    const reached = before.length < page.events.length || page.next === null;
    if (reached) {
      best = { events: before.slice(-n), atStart: fromStart || (before.length <= n && after === null) };
      if (fromStart || before.length >= n / 4) return best;
      hi = start;
      if (lo === null) {
        dist *= 16n;
        start = until - dist;
      } else start = (lo + hi) / 2n;
    } else {
      lo = start;
      if (hi - lo <= 1n) break;
      start = (lo + hi) / 2n;
    }
  }
  return best ?? { events: [], atStart: false };
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
