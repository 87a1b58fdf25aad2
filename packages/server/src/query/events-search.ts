/**
 * `GET /v1/events` (SPEC §3, contract): events of every session matching the filters, in id
 * order, paged by cursor. Filters are exact matches and combine with AND; `from`/`to` bound the
 * time of receipt (the id's time, so a range maps straight onto day files and ids); `q` is
 * full-text search over values (search/text-query.ts).
 */
import type { EventId } from '@logsrv/protocol';
import { compareIds, LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance } from 'fastify';
import { parseTextQuery } from '../search/index.js';
import { TEXT_FORMATS } from '../store/row-text.js';
import type { EventsQuery, Store } from '../store/store.js';
import type { Query } from './params.js';
import { cursor, int, oneOf, onlyKnown, str, time } from './params.js';
import { CONTENT_TYPES } from './render.js';
import { DEFAULT_PAGE, MAX_PAGE } from './session-events.js';

const FIELDS = ['session', 'user', 'terminal', 'component', 'key', 'level', 'step'] as const;
const KNOWN = [...FIELDS, 'from', 'to', 'q', 'after', 'limit', 'format'];
const SEARCH_FORMATS = TEXT_FORMATS;

/** The id range `(after, until]` that `after`, `from` and `to` leave. */
export function idRange(after: EventId | null, from: number | undefined, to: number | undefined): { after: EventId | null; until: EventId | null } {
  if (from !== undefined && to !== undefined && from > to) {
    throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `'from' (${new Date(from).toISOString()}) is after 'to' (${new Date(to).toISOString()})`);
  }
  // ms ≥ from  ⇔  id > (from, -1);  ms ≤ to  ⇔  id ≤ (to, max)
  const lower = from === undefined ? null : { ms: from, seq: -1 };
  return {
    after: after === null ? lower : lower === null || compareIds(after, lower) > 0 ? after : lower,
    until: to === undefined ? null : { ms: to, seq: Number.MAX_SAFE_INTEGER },
  };
}

export function registerEventSearch(app: FastifyInstance, store: Store): void {
  app.get('/v1/events', async (req, reply) => {
    const q = req.query as Query;
    onlyKnown(q, KNOWN, 'GET /v1/events');
    const query: EventsQuery = { after: null, until: null, limit: int(q, 'limit', DEFAULT_PAGE, 1, MAX_PAGE) };
    for (const f of FIELDS) {
      const v = str(q, f);
      if (v === '') throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter '${f}' is empty: give a value or leave it out`);
      if (v !== undefined) query[f] = v;
    }
    const text = str(q, 'q', 1024);
    if (parseTextQuery(text) !== null) query.q = text;
    Object.assign(query, idRange(cursor(q, 'after'), time(q, 'from'), time(q, 'to')));
    const format = oneOf(q, 'format', SEARCH_FORMATS, 'json');
    const page = await store.renderEvents(query, format);
    reply.type(CONTENT_TYPES[format]);
    if (page.next) reply.header('logsrv-next', page.next);
    return reply.send(page.body);
  });
}
