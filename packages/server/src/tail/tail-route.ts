/**
 * `GET /v1/sessions/:session/tail` and `GET /v1/tail` (SPEC §3, contract): Server-Sent Events.
 *
 * The seam between history and live, with no gap and no duplicate:
 *  1. attach to the hub first — from then on every event after the hub's watermark W reaches the
 *     client (buffered while it is in history);
 *  2. read stored events in `(cursor, W]` page by page and send them;
 *  3. send the buffered live events (all after W) and follow live.
 * Every event ≤ W is committed and so visible to the store read; every event > W comes from the
 * hub. If the live buffer overflows during a long history, it is dropped and the history read is
 * extended to the newest id handed over (see TailClient.deliver), then the seam is tried again.
 *
 * History is bounded and paced like live delivery: one page per client is in memory at a time,
 * pages of all tails take turns on the thread (history-pacer.ts), and a client whose socket takes
 * nothing for two heartbeat intervals is told `lagged` and closed (TailClient.heartbeat).
 *
 * Errors known before the stream starts are plain 400/503 JSON answers; later ones are sent as
 * `event: error` with a reason before the stream closes.
 */
import type { EventId, StoredEvent } from '@logsrv/protocol';
import { compareIds, formatId, LogsrvError, parseId } from '@logsrv/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Query } from '../query/params.js';
import { cursor as cursorParam, str } from '../query/params.js';
import type { Store } from '../store/store.js';
import type { TailFilter } from './filter.js';
import { parseFilter } from './filter.js';
import { HistoryPacer } from './history-pacer.js';
import type { TailHub } from './hub.js';
import { eventFrame, PREAMBLE, SSE_HEADERS } from './sse.js';
import type { TailClient } from './tail-client.js';

/** Stored events per history read; one read's frames go out in one write. */
const HISTORY_PAGE = 1000;

export interface TailRouteDeps {
  hub: TailHub;
  store: Store;
}

function laterOf(a: EventId | null, b: EventId | null): EventId | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareIds(a, b) >= 0 ? a : b;
}

/** The resume point: `Last-Event-ID` (a reconnecting EventSource) wins over `after`, then `from=now`. */
function startCursor(req: FastifyRequest, q: Query): EventId | null | 'now' {
  const header = req.headers['last-event-id'];
  const text = Array.isArray(header) ? header[header.length - 1] : header;
  if (text !== undefined && text.trim() !== '') {
    const id = parseId(text.trim());
    if (!id) throw new LogsrvError('LOGSRV_ERR_BAD_CURSOR', `header Last-Event-ID is not an event id: ${JSON.stringify(text)} (ids look like 1763805600000-0)`);
    return id;
  }
  const after = cursorParam(q, 'after');
  const from = str(q, 'from', 32);
  if (from !== undefined && from !== 'now') {
    throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter 'from' must be 'now' on a tail (to resume, give after=<id>), got ${JSON.stringify(from)}`);
  }
  if (from === 'now' && after !== null) throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', "give either 'after' or 'from=now', not both");
  return from === 'now' ? 'now' : after;
}

/**
 * Refuses a cursor newer than anything committed: it cannot come from this store (a wiped or
 * different data dir), and following it would silently skip events until ids caught up.
 */
async function checkKnown(cursor: EventId | null | 'now', hub: TailHub, store: Store): Promise<void> {
  if (cursor === null || cursor === 'now') return;
  const known = hub.lastCommitted;
  if (known !== null && compareIds(cursor, known) <= 0) return;
  // The store may be a commit ahead of this thread's view; it has the last word.
  const last = await store.lastId();
  if (last !== null && compareIds(cursor, last) <= 0) return;
  throw new LogsrvError(
    'LOGSRV_ERR_BAD_CURSOR',
    `unknown cursor ${formatId(cursor)}: newer than the newest stored event (${last ? formatId(last) : 'the store is empty'}); start without a cursor`,
  );
}

function historyFrames(events: StoredEvent[]): string {
  let text = '';
  for (const e of events) text += eventFrame(e.id, JSON.stringify(e));
  return text;
}

/**
 * Sends history and hands the client to the hub. Resolves when the client is live or closed;
 * rejects only on a store failure (the caller turns that into `event: error`).
 */
async function runHistory(
  client: TailClient,
  filter: TailFilter,
  store: Store,
  pacer: HistoryPacer,
  cursor: EventId | null,
  until0: EventId | null,
): Promise<void> {
  let covered = cursor;
  let until = until0;
  for (;;) {
    let endAt: string | null = null;
    if (filter.session !== undefined && until !== null) {
      const end = await store.sessionEnd(filter.session, covered, until);
      endAt = end.first ?? end.endedAt;
    }
    const stopId = endAt !== null ? (parseId(endAt) as EventId) : until;
    let pos = covered;
    while (stopId !== null && (pos === null || compareIds(pos, stopId) < 0)) {
      // One page in its turn (read, frame, write: paced with every other replaying tail), then
      // wait outside the turn until this client's socket takes it.
      const after = pos;
      const next = await pacer.turn(async (busy) => {
        const page = await store.readEvents({ ...filter, after, until: stopId, limit: HISTORY_PAGE });
        if (client.closed) return null;
        busy();
        const last = page.events[page.events.length - 1];
        if (last) client.writeHistory(historyFrames(page.events), last.id);
        return page.next;
      });
      if (client.closed || !(await client.historyDrained())) return;
      if (next === null) break;
      pos = parseId(next);
    }
    if (client.closed) return;
    if (endAt !== null) {
      client.end(endAt);
      return;
    }
    covered = laterOf(covered, until);
    const more = client.takeOverflow();
    if (more === null) break;
    until = more;
  }
  client.goLive(covered);
}

async function openTail(req: FastifyRequest, reply: FastifyReply, deps: TailRouteDeps, pacer: HistoryPacer, fixedSession?: string): Promise<void> {
  const q = req.query as Query;
  const filter = parseFilter(q, fixedSession);
  const cursor = startCursor(req, q);
  await checkKnown(cursor, deps.hub, deps.store);
  deps.hub.admit();

  // From here on the response is ours: fastify sends nothing, so headers set by hooks are copied.
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string | number | string[]> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v;
  // No chunked framing (see SSE_HEADERS): the hub writes frames straight to the socket.
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.writeHead(200, { ...headers, ...SSE_HEADERS });
  req.raw.socket.setNoDelay(true);
  res.write(PREAMBLE);

  const { client, cursor: from, until } = deps.hub.attach(filter, res, cursor);
  // from=now: an `id:` line without data gives the client its resume point before any event
  // arrives (EventSource adopts it at the blank line), so a reconnect does not skip events.
  if (cursor === 'now' && from !== null) res.write(`id: ${formatId(from)}\n\n`);
  try {
    await runHistory(client, filter, deps.store, pacer, from, until);
  } catch (err) {
    req.log.error({ err }, 'tail history read failed');
    client.fail('LOGSRV_ERR_INTERNAL', `reading stored events failed: ${(err as Error).message}; reconnect to resume`);
  }
}

export function registerTailRoutes(app: FastifyInstance, deps: TailRouteDeps): void {
  // One pacer for every tail of this server: history replay shares the thread with ingest.
  const pacer = new HistoryPacer();
  app.get('/v1/sessions/:session/tail', async (req, reply) => {
    const { session } = req.params as { session: string };
    await openTail(req, reply, deps, pacer, session);
  });
  app.get('/v1/tail', async (req, reply) => {
    await openTail(req, reply, deps, pacer);
  });
}
