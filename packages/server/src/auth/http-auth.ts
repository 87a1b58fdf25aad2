/**
 * Bearer-token authentication and scopes for every HTTP route (SPEC §7).
 *
 * Which scope a route needs is decided here, from method and path, so a route added later is
 * covered by default: `POST /v1/events` needs `ingest`; `/v1/reports/*` and any other write
 * (`PUT /v1/sessions/:s`, ...) and `/v1/reports/blocked` need `admin`; every other `GET /v1/*`
 * (the health reports too) and `/metrics` need `read`; a session-restricted token gets no report.
 * `/healthz` and the UI shell are open. `admin` carries every scope.
 *
 * A token restricted to a session prefix reaches `/v1/sessions/:session/...` only for matching
 * sessions, cross-session reads only with a matching `session=` parameter, the session list
 * narrowed to its prefix (by the route, see `query/sessions.ts`), and ingests only
 * events of matching sessions (others are rejected per event with reason `forbidden`).
 *
 * Auth is on as soon as the data dir's token file holds a token (revoked ones count, so revoking
 * the last token never reopens the server). Long-lived responses (SSE tails) are tracked per token
 * and closed, with an `event: error`, when the token is revoked.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isShipperIngestPath } from '../ingest/shippers.js';
import type { Scope, TokenEntry, TokenFile } from './token-store.js';
import { hasScope, parseTokenFile, readTokenFile, tokensPath, verifyToken } from './token-store.js';

const byRequest = new WeakMap<IncomingMessage, TokenEntry>();

/** The token a request was authenticated with; undefined when auth is off. */
export function tokenOf(req: FastifyRequest): TokenEntry | undefined {
  return byRequest.get(req.raw);
}

export function requiredScope(method: string, path: string): Scope | null {
  if (path === '/metrics') return 'read';
  if (isShipperIngestPath(method, path)) return 'ingest';
  if (!path.startsWith('/v1/')) return null;
  if (method === 'POST' && path === '/v1/events') return 'ingest';
  // The health reports (components, keys, stats) read; the blocked-sources report stays admin's.
  if (path.startsWith('/v1/reports/')) return path === '/v1/reports/blocked' || (method !== 'GET' && method !== 'HEAD') ? 'admin' : 'read';
  if (method === 'GET' || method === 'HEAD') return 'read';
  return 'admin';
}

export class HttpAuth {
  private doc: TokenFile;
  private readonly path: string;
  /** token id → its open responses, and whether each is an SSE stream */
  private readonly live = new Map<string, Map<ServerResponse, boolean>>();

  constructor(
    dataDir: string,
    private readonly warn: (msg: string) => void,
  ) {
    this.path = tokensPath(dataDir);
    this.doc = readTokenFile(dataDir); // once, at start
  }

  /** True when the data dir has (or ever had) a token: then every protected route needs one. */
  get enabled(): boolean {
    return this.doc.tokens.length > 0;
  }

  /** Follows changes to the token file (new tokens, revocations by `logsrv token revoke`). */
  watch(intervalMs = 500): void {
    watchFile(this.path, { interval: intervalMs, persistent: false }, () => {
      this.reload().catch((err: Error) => this.warn(`cannot reload ${this.path}: ${err.message}; keeping the previous tokens`));
    });
  }

  stop(): void {
    unwatchFile(this.path);
  }

  async reload(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // keep what we had
      throw err;
    }
    this.doc = parseTokenFile(text, this.path);
    for (const [id, responses] of this.live) {
      const entry = this.doc.tokens.find((t) => t.id === id);
      if (entry && entry.revokedAt === null) continue;
      for (const [res, sse] of responses) closeRevoked(res, sse);
      this.live.delete(id);
    }
  }

  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (req, reply) => {
      if (!this.enabled) return;
      const path = req.url.split('?', 1)[0] as string;
      const scope = requiredScope(req.method, path);
      if (scope === null) return;
      const presented = presentedToken(req.headers.authorization ?? '');
      if (presented === null) {
        reply.header('www-authenticate', 'Bearer realm="logsrv"');
        throw new LogsrvError('LOGSRV_ERR_UNAUTHORIZED', 'missing token: send Authorization: Bearer <token> (create one with `logsrv token create`)');
      }
      const entry = verifyToken(this.doc, presented);
      if (!entry) {
        reply.header('www-authenticate', 'Bearer realm="logsrv", error="invalid_token"');
        throw new LogsrvError('LOGSRV_ERR_UNAUTHORIZED', 'invalid or revoked token');
      }
      if (!hasScope(entry, scope)) {
        throw new LogsrvError('LOGSRV_ERR_FORBIDDEN', `this token lacks the '${scope}' scope (it has ${entry.scopes.join(', ')})`);
      }
      // Reports add up events of every session: a token restricted to some sessions gets none.
      if (entry.sessionPrefix !== null && path.startsWith('/v1/reports/')) {
        throw new LogsrvError('LOGSRV_ERR_FORBIDDEN', `reports span every session: this token reaches only sessions starting with '${entry.sessionPrefix}'`);
      }
      if (entry.sessionPrefix !== null && scope !== 'ingest') checkSessionReach(entry.sessionPrefix, path, req.query as Record<string, unknown>);
      byRequest.set(req.raw, entry);
      this.track(entry.id, reply.raw, path.endsWith('/tail'));
    });
  }

  private track(id: string, res: ServerResponse, sse: boolean): void {
    let set = this.live.get(id);
    if (!set) {
      set = new Map();
      this.live.set(id, set);
    }
    set.set(res, sse);
    res.once('close', () => {
      set.delete(res);
      if (set.size === 0 && this.live.get(id) === set) this.live.delete(id);
    });
  }
}

/**
 * The token of an Authorization header: `Bearer <token>`, or — for shippers that only do these —
 * HTTP Basic with the token as the password (any user name; Promtail, Fluent Bit, Filebeat) and
 * Elasticsearch's `ApiKey base64(<id>:<token>)` or `ApiKey <token>`.
 */
function presentedToken(header: string): string | null {
  const m = /^(Bearer|Basic|ApiKey)\s+(\S+)$/i.exec(header);
  if (!m) return null;
  const kind = (m[1] as string).toLowerCase();
  const value = m[2] as string;
  if (kind === 'bearer') return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon >= 0) return decoded.slice(colon + 1);
  return kind === 'apikey' ? value : null;
}

function checkSessionReach(prefix: string, path: string, query: Record<string, unknown>): void {
  if (path === '/v1/sessions' || path === '/v1/sessions/') return; // the list route narrows itself
  if (path === '/metrics') {
    throw new LogsrvError(
      'LOGSRV_ERR_FORBIDDEN',
      `/metrics counts every session, and this token reaches only sessions starting with '${prefix}': use a read token without --session-prefix`,
    );
  }
  const m = /^\/v1\/sessions\/([^/]+)(\/|$)/.exec(path);
  let session: string | undefined;
  if (m) {
    try {
      session = decodeURIComponent(m[1] as string);
    } catch {
      session = undefined;
    }
  } else if (typeof query.session === 'string') session = query.session;
  if (session === undefined || !session.startsWith(prefix)) {
    throw new LogsrvError(
      'LOGSRV_ERR_FORBIDDEN',
      m
        ? `this token reaches only sessions starting with '${prefix}'`
        : `this token reaches only sessions starting with '${prefix}': pass session=<name> with such a session`,
    );
  }
}

/** Ends a response whose token was revoked: SSE streams get a last `event: error` frame first. */
function closeRevoked(res: ServerResponse, sse: boolean): void {
  if (res.writableEnded) return;
  if (res.headersSent && sse) {
    // The same frame shape as every other `event: error` (docs/tail.md): code and message.
    res.end(`event: error\ndata: ${JSON.stringify({ code: 'LOGSRV_ERR_UNAUTHORIZED', message: 'token revoked' })}\n\n`);
  } else if (!res.headersSent) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'LOGSRV_ERR_UNAUTHORIZED', message: 'token revoked' } }));
  } else {
    res.end();
  }
  res.socket?.destroySoon?.();
}

/** For ingest with a restricted token: why an event may not be stored, or null. */
export function ingestRestriction(entry: TokenEntry | undefined): ((session: string, component: string | null) => string | null) | undefined {
  if (!entry || (entry.sessionPrefix === null && entry.component === null)) return undefined;
  return (session, component) => {
    if (entry.sessionPrefix !== null && !session.startsWith(entry.sessionPrefix))
      return `this token may only send events of sessions starting with '${entry.sessionPrefix}'`;
    if (entry.component !== null && component !== entry.component) return `this token may only send events with component '${entry.component}'`;
    return null;
  };
}
