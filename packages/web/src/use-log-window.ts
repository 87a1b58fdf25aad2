/**
 * The loaded window of a session's rows, and the live tail that extends it.
 *
 * Only a window of the session is in memory (at most MAX_ROWS rows): it is opened at the end
 * (the default), or around one event (a permalink or a search match), grows by pages as the user
 * scrolls towards either edge, and — while it reaches the end of the session — by live events
 * from the SSE tail. Virtuoso renders only what is on screen; `firstItemIndex` goes down by the
 * number of rows prepended, so the view does not jump when history arrives above it.
 *
 * Live events are collected per network read and applied once per animation frame (every 250 ms
 * in a hidden tab), so a loud command costs one React update per frame, not one per line.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SessionSummary, StoredEvent } from './api.ts';
import { ApiError, errorText, getJson, sessionPath } from './api.ts';
import { compareIds, idPos, pageAfter, pageBefore, pageFrom, posAfter } from './history.ts';
import type { Row } from './rows.ts';
import { appendRows, rowsAfter, rowsBefore } from './rows.ts';
import type { TailStatus } from './sse.ts';
import { followTail } from './sse.ts';

export const PAGE = 1000;
/** Rows kept in memory; past it rows are dropped from the far side. */
export const MAX_ROWS = 150_000;
/** Virtuoso needs a positive first index that can go down by every row ever prepended. */
const BASE_INDEX = 1_000_000_000;

export interface LogWindow {
  rows: Row[];
  /** Virtuoso's index of rows[0]. */
  firstItemIndex: number;
  /** The first row when the window was opened: rows before it were prepended since. */
  anchorId: string | null;
  atStart: boolean;
  atEnd: boolean;
  /** Bumps on every (re)open: the list is remounted at `initialIndex`. */
  gen: number;
  initialIndex: number | 'LAST';
  /** Bumps on every change of rows. */
  version: number;
  /** A row's line number is kBase + row.k; null while the window's place in the session is unknown. */
  kBase: number | null;
}

export interface WindowApi {
  win: LogWindow;
  summary: SessionSummary | null;
  status: TailStatus | 'loading';
  error: string | null;
  /** Structured events seen live, by key, merged over `summary.latest`. */
  liveLatest: Map<string, StoredEvent>;
  openAtEnd: () => Promise<void>;
  openAround: (id: string) => Promise<void>;
  loadOlder: () => Promise<void>;
  loadNewer: () => Promise<void>;
  indexOf: (id: string) => number;
}

const EMPTY: LogWindow = {
  rows: [],
  firstItemIndex: BASE_INDEX,
  anchorId: null,
  atStart: true,
  atEnd: true,
  gen: 0,
  initialIndex: 'LAST',
  version: 0,
  kBase: null,
};

/** Index of the row holding event `id` (rows sorted by id, each spanning id…lastId), or -1. */
function findRow(rows: Row[], id: string): number {
  let lo = 0;
  let hi = rows.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = rows[mid] as Row;
    if (compareIds(id, r.id) < 0) hi = mid - 1;
    else if (compareIds(id, r.lastId) > 0) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** The id after which the window ends: where tails and later pages continue. */
function endId(rows: Row[]): string | null {
  return rows.length > 0 ? (rows[rows.length - 1] as Row).lastId : null;
}

/** kBase for rows that end with the session's `count`-th event. */
function baseFromEnd(rows: Row[], count: number): number {
  const last = rows[rows.length - 1];
  return count - (last ? last.k + last.events : 0) + 1;
}

export function useLogWindow(session: string): WindowApi {
  const [win, setWin] = useState<LogWindow>(EMPTY);
  const winRef = useRef<LogWindow>(EMPTY);
  const [summary, setSummary] = useState<SessionSummary | null>(null);
  const summaryRef = useRef<SessionSummary | null>(null);
  const [status, setStatus] = useState<TailStatus | 'loading'>('loading');
  const [error, setError] = useState<string | null>(null);
  const [liveLatest, setLiveLatest] = useState<Map<string, StoredEvent>>(new Map());
  const tailRef = useRef<{ stop: () => void } | null>(null);
  const busy = useRef(false);
  const pending = useRef<StoredEvent[]>([]);
  /** Cancels the scheduled flush, while one is scheduled. */
  const scheduled = useRef<(() => void) | null>(null);
  const genRef = useRef(0);

  const commit = useCallback((next: LogWindow) => {
    winRef.current = next;
    setWin(next);
  }, []);

  const stopTail = useCallback(() => {
    tailRef.current?.stop();
    tailRef.current = null;
    pending.current = [];
    scheduled.current?.();
    scheduled.current = null;
  }, []);

  /** Applies live events collected since the last frame. */
  const flush = useCallback(() => {
    scheduled.current = null;
    const events = pending.current;
    pending.current = [];
    const w = winRef.current;
    if (events.length === 0 || !w.atEnd) return;
    const last = w.rows[w.rows.length - 1];
    // The tail resumes exactly after the last id; this only guards against a window reopened meanwhile.
    const fresh = last ? events.filter((e) => compareIds(e.id, last.lastId) > 0) : events;
    if (fresh.length === 0) return;
    let rows = appendRows(w.rows, fresh);
    let firstItemIndex = w.firstItemIndex;
    let atStart = w.atStart;
    if (rows.length > MAX_ROWS) {
      const drop = rows.length - MAX_ROWS + PAGE * 10;
      rows = rows.slice(drop);
      firstItemIndex += drop;
      atStart = false;
    }
    commit({ ...w, rows, firstItemIndex, atStart, version: w.version + 1 });
    const structured = fresh.filter((e) => e.key !== 'stdout' && e.key !== 'stderr');
    if (structured.length > 0) {
      setLiveLatest((m) => {
        const n = new Map(m);
        for (const e of structured) n.set(e.key, e);
        return n;
      });
    }
  }, [commit]);

  const startTail = useCallback(
    (after: string | null) => {
      stopTail();
      const gen = genRef.current;
      tailRef.current = followTail<StoredEvent>({
        path: sessionPath(session, '/tail'),
        after,
        onEvents: (events) => {
          if (gen !== genRef.current) return;
          pending.current.push(...events);
          if (scheduled.current !== null) return;
          // A hidden tab gets no animation frames: apply on a timer there, so nothing piles up.
          if (document.hidden) {
            const t = setTimeout(flush, 250);
            scheduled.current = () => clearTimeout(t);
          } else {
            const f = requestAnimationFrame(flush);
            scheduled.current = () => cancelAnimationFrame(f);
          }
        },
        onStatus: (s, detail) => {
          if (gen !== genRef.current) return;
          setStatus(s);
          if (s === 'error' && detail) setError(detail);
        },
      });
    },
    [session, flush, stopTail],
  );

  const loadSummary = useCallback(async (): Promise<SessionSummary | null> => {
    try {
      const s = await getJson<SessionSummary>(sessionPath(session));
      summaryRef.current = s;
      setSummary(s);
      return s;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        summaryRef.current = null;
        setSummary(null);
        return null;
      }
      throw err;
    }
  }, [session]);

  const openAtEnd = useCallback(async () => {
    stopTail();
    const gen = ++genRef.current;
    setStatus('loading');
    setError(null);
    try {
      const s = await loadSummary();
      let rows: Row[] = [];
      let atStart = true;
      const lastPos = s?.lastId ? posAfter(s.lastId) : null;
      if (s?.lastId && lastPos !== null) {
        const page = await pageBefore(session, lastPos, PAGE);
        rows = rowsAfter(undefined, page.events);
        atStart = page.atStart;
      }
      // Anything committed since the summary arrives through the tail, which starts right after.
      if (gen !== genRef.current) return;
      commit({
        rows,
        firstItemIndex: BASE_INDEX,
        anchorId: rows[0]?.id ?? null,
        atStart,
        atEnd: true,
        gen,
        initialIndex: 'LAST',
        version: winRef.current.version + 1,
        kBase: s ? baseFromEnd(rows, s.count) : null,
      });
      startTail(endId(rows));
    } catch (err) {
      if (gen === genRef.current) {
        setError(errorText(err));
        setStatus('error');
      }
    }
  }, [session, commit, loadSummary, startTail, stopTail]);

  const openAround = useCallback(
    async (id: string) => {
      const pos = idPos(id);
      stopTail();
      const gen = ++genRef.current;
      setStatus('loading');
      setError(null);
      try {
        if (!summaryRef.current) await loadSummary(); // the header shows it
        const back = pos === null ? { events: [], atStart: false } : await pageBefore(session, pos, PAGE / 2);
        const fwd = await pageFrom(session, id, PAGE / 2);
        if (gen !== genRef.current) return;
        const rows = rowsAfter(undefined, [...back.events, ...fwd.events]);
        const at = findRow(rows, id);
        // Line numbers: known from the start, or from the end with the session's current count.
        let kBase: number | null = null;
        if (back.atStart) kBase = 1 - (rows[0]?.k ?? 0);
        else if (fwd.atEnd) {
          const s = await loadSummary();
          kBase = s ? baseFromEnd(rows, s.count) : null;
        }
        if (gen !== genRef.current) return;
        commit({
          rows,
          firstItemIndex: BASE_INDEX,
          anchorId: rows[0]?.id ?? null,
          atStart: back.atStart,
          atEnd: fwd.atEnd,
          gen,
          initialIndex: Math.max(at, 0),
          version: winRef.current.version + 1,
          kBase,
        });
        if (fwd.atEnd) startTail(endId(rows));
        else setStatus('stopped');
        if (at < 0) setError(`No event ${id} in this session; showing the nearest lines.`);
      } catch (err) {
        if (gen === genRef.current) {
          setError(errorText(err));
          setStatus('error');
        }
      }
    },
    [session, commit, loadSummary, startTail, stopTail],
  );

  const loadOlder = useCallback(async () => {
    const w = winRef.current;
    const first = w.rows[0];
    if (busy.current || w.atStart || !first) return;
    const pos = idPos(first.id);
    if (pos === null) return;
    busy.current = true;
    const gen = genRef.current;
    try {
      const page = await pageBefore(session, pos, PAGE);
      const cur = winRef.current;
      if (gen !== genRef.current) return;
      const { rows: older, mergedNext } = rowsBefore(cur.rows[0], page.events);
      // A line whose first pieces were in this page: its row replaces the old first row.
      const added = older.length - (mergedNext ? 1 : 0);
      let rows = older.concat(mergedNext ? cur.rows.slice(1) : cur.rows);
      let atEnd = cur.atEnd;
      if (rows.length > MAX_ROWS) {
        rows = rows.slice(0, MAX_ROWS - PAGE * 10);
        if (atEnd) {
          atEnd = false;
          stopTail();
          setStatus('stopped');
        }
      }
      commit({
        ...cur,
        rows,
        atStart: page.atStart || page.events.length === 0,
        atEnd,
        firstItemIndex: cur.firstItemIndex - added,
        version: cur.version + 1,
        kBase: cur.kBase ?? (page.atStart && rows[0] ? 1 - rows[0].k : null),
      });
    } catch (err) {
      setError(errorText(err));
    } finally {
      busy.current = false;
    }
  }, [session, commit, stopTail]);

  const loadNewer = useCallback(async () => {
    const w = winRef.current;
    const last = w.rows[w.rows.length - 1];
    if (busy.current || w.atEnd || !last) return;
    busy.current = true;
    const gen = genRef.current;
    try {
      const page = await pageAfter(session, last.lastId, PAGE);
      const cur = winRef.current;
      if (gen !== genRef.current) return;
      let rows = appendRows(cur.rows, page.events);
      let firstItemIndex = cur.firstItemIndex;
      let atStart = cur.atStart;
      if (rows.length > MAX_ROWS) {
        const drop = rows.length - MAX_ROWS + PAGE * 10;
        rows = rows.slice(drop);
        firstItemIndex += drop;
        atStart = false;
      }
      commit({ ...cur, rows, firstItemIndex, atStart, atEnd: page.atEnd, version: cur.version + 1 });
      if (page.atEnd) startTail(endId(rows) ?? last.lastId);
    } catch (err) {
      setError(errorText(err));
    } finally {
      busy.current = false;
    }
  }, [session, commit, startTail]);

  useEffect(() => () => stopTail(), [stopTail]);

  const indexOf = useCallback((id: string) => findRow(winRef.current.rows, id), []);

  return { win, summary, status, error, liveLatest, openAtEnd, openAround, loadOlder, loadNewer, indexOf };
}
