/** `GET /v1/sessions/:session/events` (SPEC §3, contract). */

import { Readable } from 'node:stream';
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance } from 'fastify';
import { parseTextQuery } from '../search/index.js';
import type { Store } from '../store/store.js';
import type { Query } from './params.js';
import { cursor, int, oneOf, str } from './params.js';
import { CONTENT_TYPES, FORMATS, renderHtml } from './render.js';

export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 10000;

export function registerSessionEvents(app: FastifyInstance, store: Store): void {
  app.get('/v1/sessions/:session/events', async (req, reply) => {
    const { session } = req.params as { session: string };
    if (session.length === 0 || session.length > 256) throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', 'session must be 1 to 256 characters');
    const q = req.query as Query;
    const after = cursor(q, 'after');
    const before = cursor(q, 'before');
    const limit = int(q, 'limit', DEFAULT_PAGE, 1, MAX_PAGE);
    const format = oneOf(q, 'format', FORMATS, 'json');
    const key = str(q, 'key');
    const step = str(q, 'step');
    const text = str(q, 'q', 1024);
    const search = parseTextQuery(text) !== null ? text : undefined;
    if (before && after) throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', "give 'after' (read forwards) or 'before' (read backwards), not both");
    if (before && search !== undefined) throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', "'before' cannot be combined with 'q': search forwards with 'after'");
    const query = { session, after, before, limit, key, step, q: search };
    reply.type(CONTENT_TYPES[format]);
    if (format !== 'html') {
      // Rendered in the reader thread: one string crosses, not a page of objects (row-text.ts).
      const page = await store.renderSession(query, format);
      // The body's memory is lent until the response is done with it (written or aborted).
      if (page.release) reply.raw.once('close', page.release);
      if (page.next) reply.header('logsrv-next', page.next);
      if (page.prev) reply.header('logsrv-prev', page.prev);
      if (typeof page.body === 'string') return reply.send(page.body);
      // A body in parts (session chunks), or in shared memory (the SQLite store's page slab, which
      // fastify would take for an object to serialize): written part by part, with its length up
      // front as for a whole body, never copied into one buffer of a few MB first.
      let bytes = 0;
      for (const part of page.body) bytes += part.length;
      reply.header('content-length', bytes);
      return reply.send(Readable.from(page.body, { objectMode: false }));
    }
    const page = await store.readSession(query);
    if (page.next) reply.header('logsrv-next', page.next);
    let nextHref: string | null = null;
    if (page.next) {
      const params = new URLSearchParams({ after: page.next, limit: String(limit), format: 'html' });
      if (key !== undefined) params.set('key', key);
      if (step !== undefined) params.set('step', step);
      if (search !== undefined) params.set('q', search);
      nextHref = `?${params}`;
    }
    return reply.send(renderHtml(session, page.events, nextHref));
  });
}
