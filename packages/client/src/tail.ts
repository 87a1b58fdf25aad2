/**
 * Follows a live tail (SPEC §3, `GET /v1/sessions/:session/tail`, `GET /v1/tail`) and survives
 * everything but the end: a dropped connection, a server restart or an `event: lagged` make it
 * reconnect with the last event id it processed (sent as `after=`), which the server resumes
 * exactly after — no duplicate, no gap. It resolves on `event: end`, rejects with a
 * {@link TailError} when the server refuses the request for good (bad filter, bad cursor, auth).
 *
 * Backpressure: the next frame is not read until `onEvent` has finished (its promise settled), so
 * a consumer slower than the stream makes the server lag this client — which then resumes.
 */
import http from 'node:http';
import https from 'node:https';
import type { StoredEvent } from '@logsrv/protocol';
import type { SseMessage } from './sse-parser.js';
import { SseParser } from './sse-parser.js';

export interface TailOptions {
  /** `http(s)://host:port[/prefix]`. */
  server: string;
  /** Follow this session (`/v1/sessions/:session/tail`); without it, `/v1/tail` with `filters`. */
  session?: string | undefined;
  /** Further filters: key, step, component, user, terminal, level (and session on /v1/tail). */
  filters?: Record<string, string> | undefined;
  /** Start after this event id; null or absent starts at the first stored event. */
  after?: string | null | undefined;
  /** Skip stored events (`from=now`) when there is no `after`. */
  fromNow?: boolean | undefined;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Each event, in id order; the stream waits for it. A throw ends the tail with that error. */
  onEvent: (e: StoredEvent) => void | Promise<void>;
  /** Connection news, for telling the user (to stderr in the CLI). */
  onNotice?: ((n: TailNotice) => void) | undefined;
  /** First reconnection delay; doubles per failed attempt up to `maxDelayMs`. Default 250. */
  initialDelayMs?: number | undefined;
  maxDelayMs?: number | undefined;
  /**
   * No byte (not even the 15 s heartbeat) for this long means a dead connection: reconnect.
   * Default 45 s.
   */
  idleTimeoutMs?: number | undefined;
  /** No response (status line and headers) for this long after connecting: retry. Default 10 s. */
  responseTimeoutMs?: number | undefined;
}

export type TailNotice =
  | { kind: 'connected'; after: string | null }
  | { kind: 'reconnecting'; after: string | null; delayMs: number; reason: string }
  | { kind: 'lagged'; lastId: string | null };

export interface TailResult {
  reason: 'end' | 'aborted';
  /** The last event id processed (or the resume point the server gave). */
  lastId: string | null;
  /** Id of the event that ended the session, on `end`. */
  endId?: string | undefined;
}

/** The server refused the tail and retrying cannot help (4xx, or a non-transient `event: error`). */
export class TailError extends Error {
  override name = 'TailError';
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Error codes of `event: error` after which a reconnect may succeed. */
const TRANSIENT_CODES = new Set(['LOGSRV_ERR_INTERNAL', 'LOGSRV_ERR_SHUTTING_DOWN']);

type Outcome = { kind: 'end'; endId: string | undefined } | { kind: 'retry'; reason: string; delayMs?: number | undefined } | { kind: 'aborted' };

interface Cursor {
  lastId: string | null;
  fromNow: boolean;
  /** An event or resume point arrived on this connection. */
  progressed: boolean;
}

export async function tail(opts: TailOptions): Promise<TailResult> {
  const cur: Cursor = { lastId: opts.after ?? null, fromNow: opts.fromNow === true && !opts.after, progressed: false };
  const initial = opts.initialDelayMs ?? 250;
  const max = opts.maxDelayMs ?? 10_000;
  let failures = 0;
  for (;;) {
    if (opts.signal?.aborted) return { reason: 'aborted', lastId: cur.lastId };
    cur.progressed = false;
    const out = await connectOnce(opts, cur);
    if (out.kind === 'end') return { reason: 'end', lastId: cur.lastId, endId: out.endId };
    if (out.kind === 'aborted') return { reason: 'aborted', lastId: cur.lastId };
    failures = cur.progressed ? 0 : failures + 1;
    const backoff = failures === 0 ? 0 : Math.min(max, initial * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
    const delayMs = Math.round(Math.max(backoff, out.delayMs ?? 0));
    opts.onNotice?.({ kind: 'reconnecting', after: cur.lastId, delayMs, reason: out.reason });
    if (delayMs > 0 && !(await sleep(delayMs, opts.signal))) return { reason: 'aborted', lastId: cur.lastId };
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function tailUrl(opts: TailOptions, cur: Cursor): URL {
  const base = opts.server.replace(/\/+$/, '');
  const path = opts.session !== undefined ? `/v1/sessions/${encodeURIComponent(opts.session)}/tail` : '/v1/tail';
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(opts.filters ?? {})) url.searchParams.set(k, v);
  // The resume point goes in `after` (the server treats it as it treats Last-Event-ID), so the
  // server's error for a bad one names the parameter the user gave.
  if (cur.lastId !== null) url.searchParams.set('after', cur.lastId);
  else if (cur.fromNow) url.searchParams.set('from', 'now');
  return url;
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code} ${err.message}`.replace(`${code} ${code}`, code) : err.message;
}

/** One connection, from request to whatever ends it. Rejects only with a TailError or an onEvent throw. */
function connectOnce(opts: TailOptions, cur: Cursor): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    const url = tailUrl(opts, cur);
    const headers: Record<string, string> = { accept: 'text/event-stream', 'cache-control': 'no-cache' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method: 'GET', headers, agent: false });
    const idleMs = opts.idleTimeoutMs ?? 45_000;
    let idle: NodeJS.Timeout | null = null;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      if (idle) clearTimeout(idle);
      opts.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      fn();
    };
    const settle = (o: Outcome) => finish(() => resolve(o));
    const fail = (e: unknown) => finish(() => reject(e));
    const touch = () => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => settle({ kind: 'retry', reason: `no data for ${idleMs} ms` }), idleMs);
    };
    const onAbort = () => settle({ kind: 'aborted' });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // logsrv answers a tail at once; something that accepts the connection and says nothing is
    // not logsrv (or not well), so the first answer gets a shorter deadline than the idle one.
    const responseMs = opts.responseTimeoutMs ?? 10_000;
    idle = setTimeout(() => settle({ kind: 'retry', reason: `NO_ANSWER no answer from ${url.origin} within ${responseMs} ms` }), responseMs);
    req.on('error', (err) => settle({ kind: 'retry', reason: describe(err) }));
    req.on('response', (res) => {
      touch();
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => {
          if (body.length < 65536) body += s;
        });
        res.on('error', () => {});
        res.on('end', () => {
          let code = `HTTP_${status}`;
          // Not our JSON error (a proxy's page, another web server): say so rather than dump it.
          let message = `${url.origin} answered GET ${url.pathname} with HTTP ${status} (${String(res.headers['content-type'] ?? 'no Content-Type')}), not a logsrv error: is it a logsrv server?`;
          try {
            const j = JSON.parse(body) as { error?: { code?: string; message?: string } };
            if (j.error?.code) code = j.error.code;
            if (j.error?.message) message = j.error.message;
          } catch {
            // keep the message above
          }
          if (status === 408 || status === 429 || status >= 500) {
            const ra = Number(res.headers['retry-after']);
            settle({ kind: 'retry', reason: `${status} ${message}`, delayMs: Number.isFinite(ra) ? ra * 1000 : undefined });
          } else fail(new TailError(message, code, status));
        });
        return;
      }
      // A 200 that is not an event stream comes from something other than logsrv (a wrong
      // --server, a proxy's page): reading it as SSE would wait forever for frames that never come.
      const type = String(res.headers['content-type'] ?? '');
      if (!type.toLowerCase().startsWith('text/event-stream')) {
        res.resume();
        fail(
          new TailError(
            `${url.origin} is not a logsrv server (GET ${url.pathname} answered 200 ${type || 'without a Content-Type'}, not text/event-stream); check the server address`,
            'NOT_LOGSRV',
            status,
          ),
        );
        return;
      }
      opts.onNotice?.({ kind: 'connected', after: cur.lastId });
      let batch: SseMessage[] = [];
      const parser = new SseParser((m) => batch.push(m));
      // Frames are handled one chunk at a time, in order; the socket is paused meanwhile.
      let work = Promise.resolve();
      res.on('data', (chunk: Buffer) => {
        touch();
        parser.push(chunk);
        const msgs = batch;
        batch = [];
        const idAfter = parser.lastEventId;
        if (msgs.length > 0) res.pause();
        work = work.then(async () => {
          try {
            for (const m of msgs) {
              if (settled) return;
              await handle(m);
            }
            if (settled) return;
            // An `id:` without data (the server's resume point) moves the cursor too.
            if (idAfter !== '' && idAfter !== cur.lastId) {
              cur.lastId = idAfter;
              cur.progressed = true;
            }
            if (msgs.length > 0) res.resume();
          } catch (err) {
            fail(err);
          }
        });
      });
      res.on('error', (err) => {
        work = work.then(() => settle({ kind: 'retry', reason: describe(err) }));
      });
      res.on('close', () => {
        work = work.then(() => settle({ kind: 'retry', reason: 'the server closed the stream' }));
      });
    });

    async function handle(m: SseMessage): Promise<void> {
      switch (m.event) {
        case 'event': {
          const e = JSON.parse(m.data) as StoredEvent;
          await opts.onEvent(e);
          cur.lastId = m.lastEventId || e.id;
          cur.progressed = true;
          return;
        }
        case 'end': {
          const d = safeJson(m.data) as { id?: string };
          settle({ kind: 'end', endId: d.id });
          return;
        }
        case 'lagged': {
          const d = safeJson(m.data) as { lastId?: string | null };
          opts.onNotice?.({ kind: 'lagged', lastId: d.lastId ?? cur.lastId });
          settle({ kind: 'retry', reason: 'this client fell behind (event: lagged)' });
          return;
        }
        case 'error': {
          const d = safeJson(m.data) as { code?: string; message?: string };
          const code = d.code ?? 'LOGSRV_ERR_INTERNAL';
          const message = d.message ?? m.data;
          if (TRANSIENT_CODES.has(code)) settle({ kind: 'retry', reason: message });
          else fail(new TailError(message, code));
          return;
        }
        default:
        // Other event types are for other clients; ignored.
      }
    }

    req.end();
  });
}

function safeJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export type { SseMessage } from './sse-parser.js';
export { SseParser } from './sse-parser.js';
