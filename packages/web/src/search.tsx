/**
 * Server-side search within a session (`GET /v1/sessions/:s/events?q=`): the matches are ids
 * over the whole session, fetched a page at a time as the user steps through them, so a match
 * far outside the loaded window is found and opened like any other.
 */
import { useCallback, useMemo, useRef, useState } from 'react';
import { searchTerms } from './ansi-text.tsx';
import { errorText, readEvents } from './api.ts';

const MATCH_PAGE = 1000;

export interface SessionSearch {
  q: string;
  setQ: (q: string) => void;
  /** The query the matches are for (submitted). */
  active: string;
  terms: string[];
  matches: string[];
  /** More matches after the loaded ones. */
  more: boolean;
  index: number;
  busy: boolean;
  error: string | null;
  run: () => void;
  next: () => void;
  prev: () => void;
  clear: () => void;
}

export function useSessionSearch(session: string, goTo: (id: string) => void): SessionSearch {
  const [q, setQ] = useState('');
  const [active, setActive] = useState('');
  const [matches, setMatches] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [index, setIndex] = useState(-1);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);

  const run = useCallback(async () => {
    const text = q.trim();
    const mine = ++seq.current;
    setActive(text);
    setMatches([]);
    setCursor(null);
    setIndex(-1);
    setError(null);
    if (!text) return;
    setBusy(true);
    try {
      const page = await readEvents(session, { q: text, limit: MATCH_PAGE });
      if (mine !== seq.current) return;
      const ids = page.events.map((e) => e.id);
      setMatches(ids);
      setCursor(page.next);
      if (ids.length > 0) {
        setIndex(0);
        goTo(ids[0] as string);
      }
    } catch (err) {
      if (mine === seq.current) setError(errorText(err));
    } finally {
      if (mine === seq.current) setBusy(false);
    }
  }, [q, session, goTo]);

  const step = useCallback(
    async (delta: number) => {
      if (matches.length === 0) return;
      let i = index + delta;
      let list = matches;
      if (i >= list.length && cursor !== null) {
        const mine = seq.current;
        setBusy(true);
        try {
          const page = await readEvents(session, { q: active, limit: MATCH_PAGE, after: cursor });
          if (mine !== seq.current) return;
          list = matches.concat(page.events.map((e) => e.id));
          setMatches(list);
          setCursor(page.next);
        } catch (err) {
          setError(errorText(err));
          return;
        } finally {
          setBusy(false);
        }
      }
      // Wrap around only when every match is known.
      if (i >= list.length) i = cursor === null ? 0 : list.length - 1;
      if (i < 0) i = cursor === null ? list.length - 1 : 0;
      setIndex(i);
      goTo(list[i] as string);
    },
    [matches, index, cursor, session, active, goTo],
  );

  const clear = useCallback(() => {
    seq.current++;
    setQ('');
    setActive('');
    setMatches([]);
    setCursor(null);
    setIndex(-1);
    setError(null);
  }, []);

  const terms = useMemo(() => searchTerms(active), [active]);
  return {
    q,
    setQ,
    active,
    terms,
    matches,
    more: cursor !== null,
    index,
    busy,
    error,
    run,
    next: () => step(1),
    prev: () => step(-1),
    clear,
  };
}

export function SearchBar({ search }: { search: SessionSearch }) {
  const count =
    search.active === ''
      ? ''
      : search.busy && search.matches.length === 0
        ? 'searching…'
        : search.matches.length === 0
          ? 'no matches'
          : `${search.index + 1} of ${search.matches.length}${search.more ? '+' : ''}`;
  return (
    <search>
      <form
        className="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (search.q.trim() === search.active && search.matches.length > 0) search.next();
          else search.run();
        }}
      >
        <label htmlFor="session-search">Search this session</label>
        <input
          id="session-search"
          type="search"
          value={search.q}
          placeholder="words, &quot;a phrase&quot;, prefix*"
          onChange={(e) => search.setQ(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && e.shiftKey) {
              e.preventDefault();
              search.prev();
            } else if (e.key === 'Escape') search.clear();
          }}
        />
        <button type="submit">Find</button>
        <button type="button" onClick={search.prev} disabled={search.matches.length === 0} aria-label="Previous match">
          ↑
        </button>
        <button type="button" onClick={search.next} disabled={search.matches.length === 0} aria-label="Next match">
          ↓
        </button>
        <output className="match-count" aria-live="polite">
          {count}
        </output>
        {search.error ? (
          <span className="error" role="alert">
            {search.error}
          </span>
        ) : null}
      </form>
    </search>
  );
}
