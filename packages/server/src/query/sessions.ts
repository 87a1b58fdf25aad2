/**
 * `GET /v1/sessions` (SPEC §3, contract): sessions with first/last time, event count, levels and
 * the latest value of each key, latest activity first, paged by an opaque cursor; and
 * `GET /v1/sessions/:session`, one session's summary.
 */
import { LogsrvError, MAX_FIELD_CHARS } from '@logsrv/protocol';
import type { FastifyInstance } from 'fastify';
import { tokenOf } from '../auth/http-auth.js';
import { parseTextQuery } from '../search/index.js';
import { decodeSessionCursor } from '../store/session-cursor.js';
import type { SessionsQuery, Store } from '../store/store.js';
import type { Query } from './params.js';
import { int, onlyKnown, str, time } from './params.js';

export const DEFAULT_SESSIONS_PAGE = 100;
export const MAX_SESSIONS_PAGE = 1000;
const FIELDS = ['user', 'terminal', 'component'] as const;
const KNOWN = [...FIELDS, 'prefix', 'from', 'to', 'q', 'after', 'limit'];

/**
 * The prefix a listing is narrowed to: the one asked for (`prefix=`), within what the caller's token
 * reaches. A token restricted to `ci-` listing `prefix=ci-web` gets `ci-web`; listing without a
 * prefix, or with `prefix=c`, gets `ci-`; asking for `prefix=prod-` is refused.
 */
function listPrefix(asked: string | undefined, reach: string | null): string | undefined {
  if (reach === null) return asked;
  if (asked === undefined || reach.startsWith(asked)) return reach;
  if (asked.startsWith(reach)) return asked;
  throw new LogsrvError('LOGSRV_ERR_FORBIDDEN', `this token reaches only sessions starting with '${reach}': prefix '${asked}' is outside it`);
}

export function registerSessionList(app: FastifyInstance, store: Store): void {
  app.get('/v1/sessions', async (req, reply) => {
    const q = req.query as Query;
    onlyKnown(q, KNOWN, 'GET /v1/sessions');
    const query: SessionsQuery = { limit: int(q, 'limit', DEFAULT_SESSIONS_PAGE, 1, MAX_SESSIONS_PAGE) };
    for (const f of FIELDS) {
      const v = str(q, f);
      if (v === '') throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter '${f}' is empty: give a value or leave it out`);
      if (v !== undefined) query[f] = v;
    }
    query.prefix = listPrefix(str(q, 'prefix', MAX_FIELD_CHARS) || undefined, tokenOf(req)?.sessionPrefix ?? null);
    query.from = time(q, 'from');
    query.to = time(q, 'to');
    if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
      throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `'from' (${new Date(query.from).toISOString()}) is after 'to' (${new Date(query.to).toISOString()})`);
    }
    const text = str(q, 'q', 1024);
    if (parseTextQuery(text) !== null) query.q = text;
    const after = str(q, 'after', 4096);
    if (after !== undefined && after !== '') {
      if (!decodeSessionCursor(after)) {
        throw new LogsrvError(
          'LOGSRV_ERR_BAD_CURSOR',
          `parameter 'after' is not a cursor from this endpoint: ${JSON.stringify(after.slice(0, 80))} (pass the 'next' of the previous page)`,
        );
      }
      query.after = after;
    }
    const page = await store.listSessions(query);
    if (page.next) reply.header('logsrv-next', page.next);
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(page));
  });

  app.get('/v1/sessions/:session', async (req, reply) => {
    const { session } = req.params as { session: string };
    if (session.length === 0 || session.length > MAX_FIELD_CHARS)
      throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `session must be 1 to ${MAX_FIELD_CHARS} characters`);
    onlyKnown(req.query as Query, [], `GET /v1/sessions/:session`);
    const summary = await store.sessionSummary(session);
    if (!summary) throw new LogsrvError('LOGSRV_ERR_NOT_FOUND', `no session ${JSON.stringify(session)}: it has no stored events and no registration`);
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(summary));
  });
}
