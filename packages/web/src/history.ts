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
 *  - if it reaches X with too few, move C earlier (scaled by the density seen, then bisect).
 * Each step is one request of ≤ N+1 rows; a few steps usually suffice. If ids are not in that form
 * (another store), we fall back to reading forward from the start.
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
  for (let step = 0; step < MAX_STEPS; step++) {
    const fromStart = start <= 0n || (firstPos !== undefined && firstPos !== null && start <= firstPos);
    const after = fromStart ? null : cursorBefore(start);
    const page = await readEvents(session, { after, limit: n + 1 });
    const before = page.events.filter((e) => {
      const p = idPos(e.id);
      return p !== null && p < until;
    });
    const reached = before.length < page.events.length || page.next === null;
    // Reading from `start` is the same as reading from the first event it returned: bounds move
    // onto real events, so a search never wanders through id space that holds none.
    const firstRead = page.events[0] ? idPos(page.events[0].id) : null;
    if (reached) {
      best = { events: before.slice(-n), atStart: fromStart };
      if (fromStart || before.length >= n / 4) return best;
      hi = before.length > 0 && firstRead !== null ? firstRead : start;
      if (lo === null) {
        // Scale by what this read saw: k events in `dist` suggests n of them in dist × n / k.
        const grow = before.length > 0 ? BigInt(Math.min(1024, Math.max(2, Math.ceil(n / before.length)))) : 64n;
        dist *= grow;
        start = until - dist;
      } else start = midpoint(lo, hi);
    } else {
      lo = firstRead ?? start;
      if (hi - lo <= 1n) break;
      start = midpoint(lo, hi);
    }
  }
  // Ids too uneven to bisect quickly: read forward from the last start known to be before the page.
  if (lo !== null) return scanForward(session, lo, until, n);
  return best ?? { events: [], atStart: false };
}

/** Bisection steps before falling back to reading forward. */
const MAX_STEPS = 24;
/** Seqs within one millisecond rarely pass this; used only to pick midpoints. */
const SEQ_GUESS = 1n << 16n;

/**
 * A start between lo and hi. Ids are dense within a millisecond and sparse across them, so the
 * midpoint is taken in milliseconds while they differ by two or more, then within one.
 */
function midpoint(lo: bigint, hi: bigint): bigint {
  const loMs = lo >> SEQ_BITS;
  const hiMs = hi >> SEQ_BITS;
  if (hiMs - loMs >= 2n) return ((loMs + hiMs) / 2n) << SEQ_BITS;
  if (hiMs === loMs) return (lo + hi) / 2n;
  const hiSeq = hi & SEQ_MASK;
  if (hiSeq >= 2n) return (hiMs << SEQ_BITS) | (hiSeq / 2n);
  const loSeq = lo & SEQ_MASK;
  const top = loSeq < SEQ_GUESS ? SEQ_GUESS : SEQ_MASK;
  return (loMs << SEQ_BITS) | (loSeq + 1n + (top - loSeq) / 2n);
}

/** The last n events before `until`, reading forward from `lo` in large pages (at most 20). */
async function scanForward(session: string, lo: bigint, until: bigint, n: number): Promise<BackPage> {
  let kept: StoredEvent[] = [];
  let after = cursorBefore(lo);
  for (let pages = 0; pages < 20; pages++) {
    const page = await readEvents(session, { after, limit: 10_000 });
    for (const e of page.events) {
      const p = idPos(e.id);
      if (p === null || p >= until) return { events: kept.slice(-n), atStart: false };
      kept.push(e);
    }
    if (kept.length > 4 * n) kept = kept.slice(-n);
    if (page.next === null) break;
    after = page.next;
  }
  return { events: kept.slice(-n), atStart: false };
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
