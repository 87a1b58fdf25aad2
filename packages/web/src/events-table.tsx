/**
 * Structured events — every key other than stdout/stderr — as a table of the latest value per
 * key (from the session summary, updated by live events), with a key's history on demand.
 */
import { useCallback, useEffect, useState } from 'react';
import type { LatestValue, SessionSummary, StoredEvent } from './api.ts';
import { errorText, readEvents } from './api.ts';
import { compareIds } from './history.ts';
import { clock, valueText } from './rows.ts';

const HISTORY_PAGE = 200;

function History({ session, k, onGo }: { session: string; k: string; onGo: (id: string) => void }) {
  const [events, setEvents] = useState<StoredEvent[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(
    async (after: string | null) => {
      try {
        const page = await readEvents(session, { key: k, limit: HISTORY_PAGE, after });
        setEvents((prev) => (after && prev ? prev.concat(page.events) : page.events));
        setNext(page.next);
      } catch (err) {
        setError(errorText(err));
      }
    },
    [session, k],
  );
  useEffect(() => {
    load(null);
  }, [load]);
  if (events === null && error === null) return <p className="note">loading history…</p>;
  if (error) return <p className="error">{error}</p>;
  return (
    <div className="history">
      <ol>
        {(events ?? []).map((e) => (
          <li key={e.id}>
            <button type="button" className="linkish" onClick={() => onGo(e.id)}>
              {clock(e.ts)}
            </button>{' '}
            <code>{valueText(e.value)}</code>
          </li>
        ))}
      </ol>
      {next ? (
        <button type="button" onClick={() => load(next)}>
          More
        </button>
      ) : null}
    </div>
  );
}

export function EventsTable({
  session,
  summary,
  live,
  onGo,
}: {
  session: string;
  summary: SessionSummary | null;
  live: Map<string, StoredEvent>;
  onGo: (id: string) => void;
}) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  const latest = new Map<string, LatestValue>();
  for (const [k, v] of Object.entries(summary?.latest ?? {})) if (k !== 'stdout' && k !== 'stderr') latest.set(k, v);
  for (const [k, e] of live) {
    const had = latest.get(k);
    if (!had || compareIds(had.id, e.id) < 0) latest.set(k, { id: e.id, ts: e.ts, value: e.value });
  }
  const keys = [...latest.keys()].sort();
  if (keys.length === 0) return null;
  return (
    <section className="events-table" aria-labelledby="structured-head">
      <h2 id="structured-head">Structured events</h2>
      <div className="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">key</th>
              <th scope="col">latest value</th>
              <th scope="col">time</th>
              <th scope="col">
                <span className="visually-hidden">history</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => {
              const v = latest.get(k) as LatestValue;
              const shown = open.has(k);
              return (
                <tr key={k}>
                  <th scope="row">
                    <code>{k}</code>
                  </th>
                  <td>
                    <code className="value">{valueText(v.value)}</code>
                    {shown ? <History session={session} k={k} onGo={onGo} /> : null}
                  </td>
                  <td>
                    <button type="button" className="linkish" onClick={() => onGo(v.id)} aria-label={`Show ${k} in the output`}>
                      {clock(v.ts)}
                    </button>
                  </td>
                  <td>
                    <button
                      type="button"
                      aria-expanded={shown}
                      onClick={() =>
                        setOpen((s) => {
                          const n = new Set(s);
                          if (n.has(k)) n.delete(k);
                          else n.add(k);
                          return n;
                        })
                      }
                    >
                      {shown ? 'Hide history' : 'History'}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
