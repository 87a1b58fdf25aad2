/**
 * What every shipper protocol's receiver (syslog/, otlp/, loki/, elasticsearch/) shares with
 * `POST /v1/events`: the bounded body read, the per-token event quota, validation and enrichment
 * through {@link acceptValue}, the token's session/component restriction, publishing in batches
 * that are committed before the answer, and the counters — all labelled `transport=<protocol>`.
 *
 * A receiver turns its protocol's records into candidate events (plain objects shaped like a
 * `/v1/events` line) plus the session its fallback template gave; it gets back, per record, null
 * (stored) or the reason it was not, and answers in its protocol's own words.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { NormalizedEvent } from '@logsrv/protocol';
import { formatBytes, LogsrvError } from '@logsrv/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ingestRestriction, tokenOf } from '../auth/index.js';
import type { Metrics } from '../metrics.js';
import type { Queue } from '../queue/queue.js';
import type { Rejection } from './accept.js';
import { acceptValue, isRejection } from './accept.js';
import type { HttpIngestOptions } from './http-ingest.js';

export type ShipperProtocol = 'syslog' | 'otlp' | 'loki' | 'elasticsearch';

/** One record of a shipper's request, mapped onto the event shape of `POST /v1/events`. */
export interface Candidate {
  event: Record<string, unknown>;
  /** The protocol's fallback session, used when the event has no `session` and the registry has none for its user/terminal. */
  fallback: string | undefined;
}

export interface ShipperResult {
  /** Per record, in request order: null when stored (or already stored), else why not. */
  results: (Rejection | null)[];
  accepted: number;
  rejected: number;
}

/**
 * A request that could not be decoded at all (bad protobuf, bad JSON, bad framing): counted once in
 * `logsrv_rejected_total{transport=<protocol>,reason}` and answered with the protocol's 400.
 */
export function countGarbage(metrics: Metrics, protocol: ShipperProtocol, reason: string): void {
  metrics.rejected.inc({ transport: protocol, reason });
}

/** The whole body, decompressed (gzip or deflate Content-Encoding), at most `limit` bytes. */
export async function readBody(req: FastifyRequest, limit: number, flag: string): Promise<Buffer> {
  const raw = req.body as Readable | undefined | null;
  if (raw === undefined || raw === null) return Buffer.alloc(0);
  const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  let stream: Readable = raw;
  if (enc === 'gzip' || enc === 'x-gzip' || enc === 'deflate') {
    const z = enc === 'deflate' ? createInflate() : createGunzip();
    pipeline(raw, z, () => {});
    stream = z;
  } else if (enc !== 'identity' && enc !== '') {
    throw new LogsrvError('LOGSRV_ERR_UNSUPPORTED_ENCODING', `unsupported Content-Encoding ${enc}: send identity, gzip or deflate`);
  }
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (stream === raw && declared > limit) throw tooLarge(limit, flag);
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > limit) throw tooLarge(limit, flag);
      parts.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof LogsrvError) throw err;
    if (((err as NodeJS.ErrnoException).code ?? '').startsWith('Z_'))
      throw new LogsrvError('LOGSRV_ERR_BAD_ENCODING', `body could not be decompressed: ${(err as Error).message}`);
    throw err;
  }
  return Buffer.concat(parts, size);
}

function tooLarge(limit: number, flag: string): LogsrvError {
  return new LogsrvError('LOGSRV_ERR_BODY_TOO_LARGE', `request body too large: over ${formatBytes(limit)}, limit ${formatBytes(limit)} (${flag})`);
}

/**
 * The per-token event quota of `POST /v1/events`, for a shipper's request: throws
 * LOGSRV_ERR_RATE_LIMITED (429, Retry-After) when the token is over it; returns how to charge
 * the events that get stored.
 */
export async function admitQuota(req: FastifyRequest, reply: FastifyReply, o: HttpIngestOptions): Promise<(n: number) => void> {
  const token = tokenOf(req);
  const rule = token?.eventsPerSecond ? { perSecond: token.eventsPerSecond, burst: token.eventsBurst ?? 2 * token.eventsPerSecond } : null;
  if (!o.quota || !token || !rule) return () => {};
  const d = await o.quota.admit(token.id, rule);
  if (!d.allowed) {
    o.blocked?.record(`token ${token.id}`, 'http');
    const seconds = Math.ceil(d.retryAfterMs / 1000);
    reply.header('retry-after', String(seconds));
    throw new LogsrvError(
      'LOGSRV_ERR_RATE_LIMITED',
      `token ${token.id} is over its quota of ${rule.perSecond} events/s (burst ${rule.burst}); retry after ${seconds} s`,
    );
  }
  const quota = o.quota;
  return (n) => quota.charge(token.id, n, rule);
}

/**
 * Validates, enriches and stores the records of one request; resolves once every stored one is
 * committed. Throws LOGSRV_ERR_QUEUE_FULL when the queue refuses the first batch (nothing stored:
 * the shipper's retry is safe); later batches wait for room up to `queueWaitMs`.
 */
export async function ingestCandidates(
  req: FastifyRequest,
  protocol: ShipperProtocol,
  candidates: (Candidate | Rejection)[],
  o: HttpIngestOptions,
  charge: (n: number) => void,
): Promise<ShipperResult> {
  const restrict = ingestRestriction(tokenOf(req));
  const results: (Rejection | null)[] = new Array(candidates.length).fill(null);
  let batch: NormalizedEvent[] = [];
  let bytes = 0;
  let accepted = 0;
  let rejected = 0;
  const reject = (i: number, r: Rejection) => {
    results[i] = r;
    rejected++;
    o.metrics.rejected.inc({ transport: protocol, reason: r.reason });
  };
  const flush = async () => {
    if (batch.length === 0) return;
    const events = batch;
    const n = bytes;
    batch = [];
    bytes = 0;
    const dups = await publishWaiting(o.queue, events, n, accepted === 0 ? 0 : o.queueWaitMs);
    accepted += events.length;
    charge(events.length);
    o.metrics.accepted.inc({ transport: protocol }, events.length - dups);
    if (dups > 0) o.metrics.duplicates.inc({ transport: protocol }, dups);
  };
  o.metrics.received.inc({ transport: protocol }, candidates.length);
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i] as Candidate | Rejection;
    if ('reason' in c) {
      reject(i, c);
      continue;
    }
    const fallback = c.fallback;
    const a = acceptValue(c.event, (user, terminal) => o.resolveSession?.(user, terminal) ?? fallback);
    if (isRejection(a)) {
      reject(i, a);
      continue;
    }
    // One record is one event: the same size bound as an NDJSON line (bytes counted only when it could matter).
    const chars = a.value.length + (a.attrs?.length ?? 0);
    if (chars * 3 > o.maxLineBytes && Buffer.byteLength(a.value) + Buffer.byteLength(a.attrs ?? '') > o.maxLineBytes) {
      reject(i, { reason: 'line_too_large', error: `record is over ${formatBytes(o.maxLineBytes)} as an event (--max-line-bytes)` });
      continue;
    }
    const denied = restrict?.(a.session, a.component);
    if (denied) {
      reject(i, { reason: 'forbidden', error: denied });
      continue;
    }
    batch.push(a);
    bytes += a.value.length + (a.attrs?.length ?? 0) + 64;
    if (batch.length >= o.requestBatchEvents || bytes >= 1024 * 1024) await flush();
  }
  await flush();
  return { results, accepted, rejected };
}

/** Publishes one batch; with `waitMs` > 0 a full queue is retried until then. Resolves with the number of duplicates. */
export async function publishWaiting(queue: Queue, events: NormalizedEvent[], bytes: number, waitMs: number): Promise<number> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return (await queue.publish(events, bytes)).duplicates?.length ?? 0;
    } catch (err) {
      const full = err instanceof LogsrvError && err.code === 'LOGSRV_ERR_QUEUE_FULL';
      if (!full || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Every route of a shipper protocol reads its body raw, as `/v1/events` does. */
export function rawBodies(scope: import('fastify').FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}

/** A short text for a value of unknown type in messages. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
