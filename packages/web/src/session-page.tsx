/**
 * A session: its output like a terminal, following live, searchable across the whole session,
 * linkable by line, downloadable; its structured events as a table.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { VirtuosoHandle } from 'react-virtuoso';
import { Virtuoso } from 'react-virtuoso';
import { downloadSession, errorText } from './api.ts';
import { EventsTable } from './events-table.tsx';
import { JobSummary } from './job-summary.tsx';
import { LogRow } from './log-row.tsx';
import { Link, sessionHref } from './router.tsx';
import type { ExitInfo, Row } from './rows.ts';
import { rowHas } from './rows.ts';
import { SearchBar, useSessionSearch } from './search.tsx';
import { StatusBadge, sessionStatus } from './status.tsx';
import { useLogWindow } from './use-log-window.ts';

/** How recently a user gesture must have happened for a scroll to count as the user's. */
const GESTURE_MS = 800;

export function SessionPage({ session, lineId }: { session: string; lineId: string | null }) {
  const w = useLogWindow(session);
  const { win } = w;
  const list = useRef<VirtuosoHandle>(null);
  const scroller = useRef<HTMLElement | null>(null);
  const [following, setFollowing] = useState(lineId === null);
  const followingRef = useRef(following);
  followingRef.current = following;
  const [currentId, setCurrentId] = useState<string | null>(lineId);
  const [showTs, setShowTs] = useState(false);
  const [wrap, setWrap] = useState(true);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [downloading, setDownloading] = useState<string | null>(null);
  const [scrollTick, setScrollTick] = useState(0);
  // Not 0: performance.now() starts at page load, so 0 would count as a gesture in the first 800 ms,
  // and the list settling its first scroll position then would pause following on its own.
  const lastGesture = useRef(Number.NEGATIVE_INFINITY);
  const lastTop = useRef(0);
  /** Whether the latest scroll movement went down: only that, by the user, resumes following. */
  const lastMoveDown = useRef(false);
  /**
   * Whether the latest gesture could move down: a wheel turned up or an upward key cannot. The
   * list moves by itself right after a wheel turned up (older rows prepended, rows measured), and
   * such a move to the end must not count as the user going back to live.
   */
  const gestureMayGoDown = useRef(true);

  // biome-ignore lint/correctness/useExhaustiveDependencies: opens once per session; a later permalink of the same session goes through goToId below.
  useEffect(() => {
    if (lineId) w.openAround(lineId);
    else w.openAtEnd();
  }, [session]);

  /** An event to scroll to once it is in the visible rows (after a re-render expanded its step). */
  const pendingScroll = useRef<string | null>(null);

  /** Scrolls to an event, loading the window around it when it is not loaded. */
  const goToId = useCallback(
    (id: string) => {
      setCurrentId(id);
      setFollowing(false);
      if (w.indexOf(id) >= 0) {
        // Collapsed steps are opened so the line can be shown; the scroll happens after that render.
        setCollapsed((c) => (c.size === 0 ? c : new Set()));
        pendingScroll.current = id;
        setScrollTick((n) => n + 1);
      } else w.openAround(id);
    },
    [w.indexOf, w.openAround],
  );

  const search = useSessionSearch(session, goToId);

  // Navigating to another line of this session (a link, back/forward) moves there without a reload.
  const openedLine = useRef(lineId);
  useEffect(() => {
    if (lineId && lineId !== openedLine.current) goToId(lineId);
    openedLine.current = lineId;
  }, [lineId, goToId]);

  const link = useCallback(
    (id: string) => {
      setCurrentId(id);
      setFollowing(false);
      window.history.replaceState(null, '', sessionHref(session, id));
    },
    [session],
  );

  const jumpToLive = useCallback(() => {
    setFollowing(true);
    setCurrentId(null);
    window.history.replaceState(null, '', sessionHref(session));
    if (win.atEnd) list.current?.scrollToIndex({ index: 'LAST', align: 'end' });
    else w.openAtEnd();
  }, [win.atEnd, w.openAtEnd, session]);

  /** The session's first line: scrolled to when loaded, else a window opened at the start. */
  const jumpToStart = useCallback(() => {
    setFollowing(false);
    if (win.atStart) list.current?.scrollToIndex({ index: 0, align: 'start' });
    else if (w.summary?.firstId) w.openAround(w.summary.firstId);
  }, [win.atStart, w.summary, w.openAround]);

  // Visible rows: all of them unless a step section is collapsed (its header stays).
  const { visible, firstItemIndex, exits } = useMemo(() => {
    const exits = new Map<string, ExitInfo>();
    for (const r of win.rows) if (r.kind === 'exit' && r.exit && r.section) exits.set(r.section, r.exit);
    if (collapsed.size === 0) return { visible: win.rows, firstItemIndex: win.firstItemIndex, exits };
    const show = (r: Row) => r.kind === 'start' || r.section === null || !collapsed.has(r.section);
    let hiddenBefore = 0;
    const visible: Row[] = [];
    let beforeAnchor = win.anchorId !== null;
    for (const r of win.rows) {
      if (beforeAnchor && rowHas(r, win.anchorId)) beforeAnchor = false;
      if (show(r)) visible.push(r);
      else if (beforeAnchor) hiddenBefore++;
    }
    return { visible, firstItemIndex: win.firstItemIndex + hiddenBefore, exits };
  }, [win, collapsed]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: runs after each goToId (scrollTick) once the rows it needs are rendered.
  useEffect(() => {
    const id = pendingScroll.current;
    if (id === null) return;
    const at = visible.findIndex((r) => rowHas(r, id));
    if (at < 0) return;
    pendingScroll.current = null;
    // After the list has taken the new row count (it applies it in its own effects).
    requestAnimationFrame(() => list.current?.scrollToIndex({ index: at, align: 'center' }));
  }, [visible, scrollTick]);

  const toggle = useCallback((section: string) => {
    setCollapsed((c) => {
      const n = new Set(c);
      if (n.has(section)) n.delete(section);
      else n.add(section);
      return n;
    });
  }, []);

  const terms = search.terms;
  const itemContent = useCallback(
    (index: number) => {
      const row = visible[index - firstItemIndex];
      if (!row) return <div className="line" />;
      return (
        <LogRow
          row={row}
          href={sessionHref(session, row.id)}
          showTs={showTs}
          terms={terms}
          current={rowHas(row, currentId)}
          lineNumber={win.kBase === null ? null : win.kBase + row.k}
          collapsed={row.kind === 'start' ? collapsed.has(row.section ?? row.id) : false}
          exit={row.kind === 'start' ? exits.get(row.section ?? row.id) : undefined}
          onToggle={toggle}
          onLink={link}
        />
      );
    },
    [visible, firstItemIndex, session, showTs, terms, currentId, collapsed, exits, toggle, link, win.kBase],
  );

  // While following, every change of the rows ends with the last one in view. Virtuoso's
  // followOutput alone only scrolls when the list still counts as at the bottom, and rows measured
  // taller after they were added could leave it just short of that for good.
  const lastRowId = visible.length > 0 ? (visible[visible.length - 1] as { id: string }).id : null;
  // The ref, not the state: a pause set by a scroll event holds at once, even for rows rendered
  // before the pause is (its scroll back down would otherwise count as the user's and resume).
  useEffect(() => {
    if (following && followingRef.current && win.atEnd && lastRowId !== null) list.current?.scrollToIndex({ index: 'LAST', align: 'end' });
  }, [following, win.atEnd, lastRowId]);

  // A scroll upwards that follows a user gesture pauses following; reaching the bottom resumes it.
  const onScroll = useCallback((e: Event) => {
    const el = e.currentTarget as HTMLElement;
    const top = el.scrollTop;
    if (top < lastTop.current - 2 && performance.now() - lastGesture.current < GESTURE_MS && followingRef.current) {
      followingRef.current = false;
      setFollowing(false);
    }
    if (top !== lastTop.current) lastMoveDown.current = top > lastTop.current;
    lastTop.current = top;
  }, []);
  const gesture = useCallback((e: Event) => {
    lastGesture.current = performance.now();
    if (e.type === 'wheel') gestureMayGoDown.current = (e as WheelEvent).deltaY > 0;
    else if (e.type === 'keydown') gestureMayGoDown.current = !['ArrowUp', 'PageUp', 'Home'].includes((e as KeyboardEvent).key);
    else gestureMayGoDown.current = true;
  }, []);
  const scrollerRef = useCallback(
    (el: HTMLElement | Window | null) => {
      const prev = scroller.current;
      if (prev) {
        prev.removeEventListener('scroll', onScroll);
        for (const t of ['wheel', 'touchmove', 'keydown', 'pointerdown'] as const) prev.removeEventListener(t, gesture);
      }
      scroller.current = el instanceof HTMLElement ? el : null;
      if (scroller.current) {
        scroller.current.addEventListener('scroll', onScroll, { passive: true });
        for (const t of ['wheel', 'touchmove', 'keydown', 'pointerdown'] as const) scroller.current.addEventListener(t, gesture, { passive: true });
        scroller.current.tabIndex = 0;
        scroller.current.setAttribute('aria-label', `Output of ${session}`);
      }
    },
    [onScroll, gesture, session],
  );

  // Keyboard shortcuts (outside text fields): / search, n/N next/previous match, t timestamps, w wrap, l live, g start.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || t.closest('input, textarea, select')) return;
      if (e.key === '/') {
        e.preventDefault();
        document.getElementById('session-search')?.focus();
      } else if (e.key === 'n') search.next();
      else if (e.key === 'N') search.prev();
      else if (e.key === 't') setShowTs((v) => !v);
      else if (e.key === 'w') setWrap((v) => !v);
      else if (e.key === 'l') jumpToLive();
      else if (e.key === 'g') jumpToStart();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [search.next, search.prev, jumpToLive, jumpToStart]);

  const download = async (format: 'text' | 'ndjson') => {
    setDownloading(`Preparing ${format === 'text' ? 'text' : 'NDJSON'} download…`);
    try {
      await downloadSession(session, format, (pages) => setDownloading(`Downloading… ${pages} page${pages === 1 ? '' : 's'}`));
      setDownloading(null);
    } catch (err) {
      setDownloading(`Download failed: ${errorText(err)}`);
    }
  };

  const status = sessionStatus(w.summary, w.liveLatest);
  // Rows may hold several events (a line sent in pieces).
  const firstRow = win.rows[0];
  const lastRow = win.rows[win.rows.length - 1];
  const loadedEvents = firstRow && lastRow ? lastRow.k + lastRow.events - firstRow.k : 0;
  const live = w.status === 'live' || w.status === 'connecting' || w.status === 'reconnecting';

  return (
    <main className="session-page">
      <header className="page-head">
        <nav aria-label="Breadcrumb">
          <Link href="/">Sessions</Link> <span aria-hidden="true">/</span>
        </nav>
        <h1 className="session-name">{session}</h1>
        <StatusBadge status={status} />
        <span className={`badge tail ${w.status}`} role="status" aria-live="polite">
          {w.status === 'live'
            ? 'live'
            : w.status === 'ended'
              ? 'ended'
              : w.status === 'reconnecting'
                ? 'reconnecting…'
                : w.status === 'loading'
                  ? 'loading…'
                  : w.status === 'connecting'
                    ? 'connecting…'
                    : 'not following'}
        </span>
        <div className="tools">
          {w.summary && w.summary.count > loadedEvents ? (
            <span className="window-info" title="Only a window of the session is kept in the page; more loads as you scroll">
              {loadedEvents.toLocaleString()} of {w.summary.count.toLocaleString()} events loaded
            </span>
          ) : null}
          <button type="button" onClick={jumpToStart} disabled={win.rows.length === 0}>
            ⤒ Start
          </button>
          <label className="check">
            <input type="checkbox" checked={showTs} onChange={(e) => setShowTs(e.target.checked)} /> timestamps
          </label>
          <label className="check">
            <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> wrap
          </label>
          <button type="button" onClick={() => download('text')}>
            Download .log
          </button>
          <button type="button" onClick={() => download('ndjson')}>
            .ndjson
          </button>
        </div>
      </header>
      <JobSummary summary={w.summary} live={w.liveLatest} status={status} following={live} />
      <SearchBar search={search} />
      {downloading ? <p className="note">{downloading}</p> : null}
      {w.error ? (
        <p className="error" role="alert">
          {w.error}
        </p>
      ) : null}
      <div className={`terminal${wrap ? ' wrap' : ''}`}>
        {win.rows.length === 0 && w.status !== 'loading' ? <p className="empty">{live ? 'Waiting for output…' : 'No events in this session.'}</p> : null}
        {win.rows.length > 0 ? (
          <Virtuoso
            key={win.gen}
            ref={list}
            className="log-list"
            scrollerRef={scrollerRef}
            totalCount={visible.length}
            firstItemIndex={firstItemIndex}
            initialTopMostItemIndex={win.initialIndex === 'LAST' ? { index: 'LAST', align: 'end' } : { index: win.initialIndex, align: 'center' }}
            itemContent={itemContent}
            computeItemKey={(index) => visible[index - firstItemIndex]?.id ?? index}
            followOutput={() => (followingRef.current ? 'auto' : false)}
            atBottomStateChange={(bottom) => {
              // The list may report "at bottom" for a moment while rows are added or measured; only
              // the user scrolling down to the end resumes following.
              if (bottom && win.atEnd && lastMoveDown.current && gestureMayGoDown.current && performance.now() - lastGesture.current < GESTURE_MS)
                setFollowing(true);
            }}
            startReached={() => {
              if (!win.atStart) w.loadOlder();
            }}
            endReached={() => {
              if (!win.atEnd) w.loadNewer();
            }}
            increaseViewportBy={{ top: 400, bottom: 400 }}
          />
        ) : null}
        {!following && win.rows.length > 0 ? (
          <button type="button" className="jump-live" onClick={jumpToLive}>
            {win.atEnd && live ? 'Jump to live ↓' : 'Jump to end ↓'}
          </button>
        ) : null}
        <p className="visually-hidden" aria-live="polite">
          {following ? 'Following live output' : 'Paused'}
        </p>
      </div>
      <EventsTable session={session} summary={w.summary} live={w.liveLatest} onGo={goToId} />
    </main>
  );
}
