/**
 * One `POST /v1/events` of an NDJSON body (SPEC §2) and what the caller should do next.
 * The caller owns the agent (one keep-alive connection) and decides about retries; this only
 * classifies the answer.
 */
import http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';

const requireBuiltin = createRequire(import.meta.url);

/**
 * `node:https`, loaded on first use: it brings TLS and most of crypto (~5-10 ms of every agent's
 * start-up, here under load), and most servers an agent talks to are plain http on a LAN.
 */
export function httpsModule(): typeof https {
  return requireBuiltin('node:https') as typeof https;
}

/** Where events go: the server's base URL, its token, the connection pool to use. */
export interface PostTarget {
  /** `http(s)://host:port[/prefix]` without a trailing slash. */
  base: string;
  token?: string | undefined;
  agent: http.Agent;
  /** No response within this long (the server answers after commit) counts as a network error. */
  timeoutMs: number;
}

export interface RejectedEvent {
  index: number;
  error: string;
  reason?: string;
}

export type PostOutcome =
  /** Committed. `duplicates` counts events the server already had (a retried `(producer, seq)`). */
  | { kind: 'ok'; accepted: number; duplicates: number; rejected: RejectedEvent[]; rejectedTotal: number }
  /** Nothing or not everything was committed, but a later attempt can succeed: network error, 408, 429, 5xx. */
  | { kind: 'retry'; reason: string; retryAfterMs: number | undefined }
  /** The server refuses this client (401/403): retrying cannot help until the token changes. */
  | { kind: 'refused'; status: number; reason: string }
  /** The server can never store this batch (400 nothing valid, 413, 415): retrying cannot help. */
  | { kind: 'unstorable'; status: number; reason: string; rejected: RejectedEvent[] };

/** `Retry-After` as milliseconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function errorMessage(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    if (body.error?.message) return `${status} ${body.error.message}`;
  } catch {
    // not JSON: use the text
  }
  return `${status} ${text.slice(0, 200).trim()}`;
}

function classify(status: number, headers: http.IncomingHttpHeaders, text: string): PostOutcome {
  if (status === 200) {
    let body: { accepted?: number; duplicates?: number; rejected?: RejectedEvent[]; rejectedTotal?: number };
    try {
      body = JSON.parse(text);
    } catch {
      // A 200 we cannot read: the events may be committed, so resending is the safe choice
      // (the server drops the duplicates by `(producer, seq)`).
      return { kind: 'retry', reason: `unreadable 200 response: ${text.slice(0, 100)}`, retryAfterMs: undefined };
    }
    const rejected = Array.isArray(body.rejected) ? body.rejected : [];
    return {
      kind: 'ok',
      accepted: body.accepted ?? 0,
      duplicates: body.duplicates ?? 0,
      rejected,
      rejectedTotal: body.rejectedTotal ?? rejected.length,
    };
  }
  const reason = errorMessage(status, text);
  if (status === 401 || status === 403) return { kind: 'refused', status, reason };
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: 'retry', reason, retryAfterMs: parseRetryAfter(headers['retry-after'] as string | undefined) };
  }
  let rejected: RejectedEvent[] = [];
  try {
    const body = JSON.parse(text) as { rejected?: RejectedEvent[] };
    if (Array.isArray(body.rejected)) rejected = body.rejected;
  } catch {
    // no per-event detail
  }
  return { kind: 'unstorable', status, reason, rejected };
}

export interface PostHandle {
  done: Promise<PostOutcome>;
  /** Gives up on the request; `done` then resolves as a retry. */
  abort(): void;
}

/** Sends one NDJSON body (several buffers are sent one after the other, as one body, uncopied). Never rejects: every failure is an outcome. */
export function postNdjson(target: PostTarget, body: string | Buffer | readonly Buffer[]): PostHandle {
  const url = new URL(`${target.base}/v1/events`);
  let length = 0;
  if (typeof body === 'string' || Buffer.isBuffer(body)) length = Buffer.byteLength(body);
  else for (const b of body) length += b.length;
  const headers: Record<string, string | number> = {
    'content-type': 'application/x-ndjson',
    'content-length': length,
  };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  let req: http.ClientRequest | undefined;
  const done = new Promise<PostOutcome>((resolve) => {
    const lib = url.protocol === 'https:' ? httpsModule() : http;
    req = lib.request(url, { method: 'POST', headers, agent: target.agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => resolve(classify(res.statusCode ?? 0, res.headers, Buffer.concat(parts).toString('utf8'))));
      res.on('error', (err) => resolve({ kind: 'retry', reason: err.message, retryAfterMs: undefined }));
    });
    req.setTimeout(target.timeoutMs, () => req?.destroy(new Error(`no response within ${target.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'retry', reason: err.code ?? err.message, retryAfterMs: undefined }));
    if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      req.cork();
      for (const b of body) req.write(b);
      req.end();
    }
  });
  return { done, abort: () => req?.destroy(new Error('aborted')) };
}
