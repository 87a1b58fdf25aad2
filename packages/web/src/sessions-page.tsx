/** The sessions list: filters, search, status; refreshed every few seconds while the tab is visible. */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { SessionPage, SessionSummary } from './api.ts';
import { errorText, getJson, query } from './api.ts';
import { Link, sessionHref } from './router.tsx';
import { StatusBadge, sessionStatus } from './status.tsx';

const POLL_MS = 3000;

interface Filters {
  user: string;
  terminal: string;
  component: string;
  from: string;
  to: string;
  q: string;
}

const NO_FILTERS: Filters = { user: '', terminal: '', component: '', from: '', to: '', q: '' };

/** `datetime-local` input value (local time) → RFC 3339 for the API. */
function toIso(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function ago(iso: string | null, now: number): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleString();
}

export function SessionsPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const page = await getJson<SessionPage>(
        `/v1/sessions${query({
          user: filters.user.trim(),
          terminal: filters.terminal.trim(),
          component: filters.component.trim(),
          from: toIso(filters.from),
          to: toIso(filters.to),
          q: filters.q.trim(),
          limit: 200,
        })}`,
      );
      if (mine !== seq.current) return;
      setSessions(page.sessions);
      setMore(page.next !== null);
      setError(null);
      setNow(Date.now());
    } catch (err) {
      if (mine === seq.current) setError(errorText(err));
    }
  }, [filters]);

  useEffect(() => {
    load();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') load();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [load]);

  const field = (name: keyof Filters, label: string, type = 'text') => (
    <label className="field">
      <span>{label}</span>
      <input type={type} name={name} value={draft[name]} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })} />
    </label>
  );

  return (
    <main className="sessions-page">
      <h1>Sessions</h1>
      <search aria-label="Filter sessions">
        <form
          className="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setFilters(draft);
          }}
        >
          {field('q', 'Search text')}
          {field('user', 'User')}
          {field('terminal', 'Terminal')}
          {field('component', 'Component')}
          {field('from', 'Active from', 'datetime-local')}
          {field('to', 'Active until', 'datetime-local')}
          <div className="filter-buttons">
            <button type="submit">Apply</button>
            <button
              type="button"
              onClick={() => {
                setDraft(NO_FILTERS);
                setFilters(NO_FILTERS);
              }}
            >
              Reset
            </button>
          </div>
        </form>
      </search>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      {sessions === null && !error ? <p className="note">Loading…</p> : null}
      {sessions !== null && sessions.length === 0 ? <p className="empty">No sessions match.</p> : null}
      {sessions !== null && sessions.length > 0 ? (
        <div className="table-scroll">
          <table className="sessions">
            <caption className="visually-hidden">Sessions, latest activity first; refreshed every {POLL_MS / 1000} seconds</caption>
            <thead>
              <tr>
                <th scope="col">session</th>
                <th scope="col">status</th>
                <th scope="col">events</th>
                <th scope="col">last activity</th>
                <th scope="col" className="wide">
                  user / terminal
                </th>
                <th scope="col" className="wide">
                  components
                </th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => {
                const errors = (s.levels.error ?? 0) + (s.levels.fatal ?? 0);
                return (
                  <tr key={s.session}>
                    <th scope="row">
                      <Link href={sessionHref(s.session)}>{s.session}</Link>
                    </th>
                    <td>
                      <StatusBadge status={sessionStatus(s)} />
                      {errors > 0 ? (
                        <span className="badge fail">
                          {errors} {errors === 1 ? 'error' : 'errors'}
                        </span>
                      ) : null}
                    </td>
                    <td className="num">{s.count.toLocaleString()}</td>
                    <td>
                      <time dateTime={s.last ?? undefined} title={s.last ?? undefined}>
                        {ago(s.last, now)}
                      </time>
                    </td>
                    <td className="wide">
                      {[...new Set([...s.users, s.registered?.user ?? '', ...s.terminals, s.registered?.terminal ?? ''])].filter(Boolean).join(', ') || '—'}
                    </td>
                    <td className="wide">{s.components.join(', ') || '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {more ? <p className="note">Showing the 200 most recently active; narrow the filters to see others.</p> : null}
        </div>
      ) : null}
    </main>
  );
}
