/**
 * `POST /v1/events` (SPEC §2, contract). One JSON event, a JSON array, or NDJSON; gzip accepted.
 * NDJSON is processed as it arrives: valid events are published in batches, and while one batch
 * commits the next is read and parsed; the body is not read further until the batch before it is
 * committed, so memory is bounded by two batches, not the body. The response is sent only after
 * every accepted event is committed.
 */

import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { NormalizedEvent, RejectReason } from '@logsrv/protocol';
import { formatBytes, LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ingestRestriction, tokenOf } from '../auth/index.js';
import type { DiskGuard } from '../data-dir/disk-space.js';
import { DISK_FULL_RETRY_AFTER_S } from '../data-dir/disk-space.js';
import type { EventQuota } from '../limits/event-quota.js';
import type { Metrics } from '../metrics.js';
import type { Queue } from '../queue/queue.js';
import type { BlockedSources } from '../reports/blocked-sources.js';
import type { Accepted, SessionResolver } from './accept.js';
import { acceptLine, acceptValue, isRejection } from './accept.js';
import { publishWaiting } from './shipper-ingest.js';
import { LineSplitter } from './split-lines.js';

export interface HttpIngestOptions {
  queue: Queue;
  metrics: Metrics;
  resolveSession?: SessionResolver;
  /** Any request body, after decompression. */
  maxBodyBytes: number;
  /** A JSON (non-NDJSON) body, which must be held whole to parse. */
  maxJsonBodyBytes: number;
  maxLineBytes: number;
  /** Events per published batch of one request. */
  requestBatchEvents: number;
  /** Rejections listed in one response; the rest are counted in `rejectedTotal`. */
  maxRejectedReported: number;
  /** How long a streamed body waits for queue room after its first batch before giving up. */
  queueWaitMs: number;
  /** Per-token event quotas (tokens created with `--events-per-second`). */
  quota?: EventQuota | undefined;
  /** Where refusals by quota are reported (`GET /v1/reports/blocked`, source `token <id>`). */
  blocked?: BlockedSources | undefined;
  /** Free space of the data directory's disk: writes are refused with 507 when it is (nearly) full. */
  disk?: DiskGuard | undefined;
}

interface RejectedItem {
  index: number;
  error: string;
  reason: RejectReason;
}

/** Per-request state: the batch being filled and what happened to every event so far. */
class IngestRun {
  accepted = 0;
  /** Of the accepted, events that were already stored (a retried `(producer, seq)`). */
  duplicates = 0;
  rejected: RejectedItem[] = [];
  rejectedTotal = 0;
  private batch: NormalizedEvent[] = [];
  private batchBytes = 0;

  constructor(private readonly o: HttpIngestOptions) {}

  get pending(): number {
    return this.batch.length;
  }

  /** Set for a restricted token: says why an event may not be stored with it. */
  restrict: ((session: string, component: string | null) => string | null) | undefined;

  /** Set for a token with a quota: charged with the events of each committed batch. */
  charge: ((events: number) => void) | undefined;

  add(index: number, a: Accepted, bytes: number): void {
    if (isRejection(a)) this.reject(index, a.reason, a.error);
    else {
      const denied = this.restrict?.(a.session, a.component);
      if (denied) {
        this.reject(index, 'forbidden', denied);
        return;
      }
      this.batch.push(a);
      this.batchBytes += bytes;
    }
  }

  reject(index: number, reason: RejectReason, error: string): void {
    this.rejectedTotal++;
    this.o.metrics.rejected.inc({ transport: 'http', reason });
    if (this.rejected.length < this.o.maxRejectedReported) this.rejected.push({ index, error, reason });
  }

  full(): boolean {
    return this.batch.length >= this.o.requestBatchEvents || this.batchBytes >= 1024 * 1024;
  }

  /** The batch handed to the queue and not committed yet; it settles without throwing (see {@link failure}). */
  private inFlight: Promise<void> | null = null;
  /** Why the batch in flight failed, once it has. */
  private failure: { err: unknown } | null = null;

  /**
   * Hands the batch to the queue once the one before it is committed, and returns without waiting
   * for this one: its commit overlaps reading and parsing the next batch of the body (one request
   * — an agent's — used to leave the writer idle while its next batch was parsed, and the parser
   * idle during each commit). So at most one batch is in flight and one filling, and a batch is
   * never published after one that failed. {@link finish} waits for the last.
   */
  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const events = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    await this.settle();
    this.inFlight = this.publish(events, bytes).catch((err: unknown) => {
      this.failure = { err };
    });
  }

  /** Waits for the batch in flight; throws its failure. */
  async settle(): Promise<void> {
    const p = this.inFlight;
    if (p) {
      await p;
      this.inFlight = null;
    }
    if (this.failure) throw this.failure.err;
  }

  /** The body is read: publishes what is left and waits until every batch is committed; throws the first failure. */
  async finish(): Promise<void> {
    await this.flush();
    await this.settle();
  }

  /**
   * The request ends with `err` (a body too large, a broken stream): the batch in flight is
   * waited for first, so the response counts what was committed. A failure of that batch came
   * earlier in the body, so it is the one thrown.
   */
  async fail(err: unknown): Promise<never> {
    await this.settle();
    throw err;
  }

  /**
   * Publishes the batch and waits for its commit. The first batch of a request fails fast with
   * 503 when the queue is full (nothing of the request is stored yet, so a retry is safe); later
   * batches of a stream wait for room, up to `queueWaitMs`.
   */
  private async publish(events: NormalizedEvent[], bytes: number): Promise<void> {
    const duplicates = await publishWaiting(this.o.queue, events, bytes, this.accepted === 0 ? 0 : this.o.queueWaitMs);
    // A duplicate (its `(producer, seq)` was already committed) counts as accepted: it is stored, once.
    this.accepted += events.length;
    this.charge?.(events.length);
    this.duplicates += duplicates;
    this.o.metrics.accepted.inc({ transport: 'http' }, events.length - duplicates);
    if (duplicates > 0) this.o.metrics.duplicates.inc({ transport: 'http' }, duplicates);
  }
}

type BodyKind = 'json' | 'ndjson';

function bodyKind(req: FastifyRequest): BodyKind {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (ct === 'application/json' || ct.endsWith('+json')) return 'json';
  if (ct.startsWith('multipart/')) {
    throw new LogsrvError(
      'LOGSRV_ERR_UNSUPPORTED_MEDIA_TYPE',
      `unsupported Content-Type ${ct}: send application/json (an event or an array) or application/x-ndjson`,
    );
  }
  // application/x-ndjson, application/jsonl, text/plain, curl's default form type, or none.
  return 'ndjson';
}

/** The decompressed body stream, with the Content-Encoding checked. */
function bodyStream(req: FastifyRequest): Readable {
  const raw = req.body as Readable;
  const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (enc === 'identity' || enc === '') return raw;
  if (enc === 'gzip' || enc === 'x-gzip') {
    const gunzip = createGunzip();
    pipeline(raw, gunzip, () => {});
    return gunzip;
  }
  throw new LogsrvError('LOGSRV_ERR_UNSUPPORTED_ENCODING', `unsupported Content-Encoding ${enc}: send identity or gzip`);
}

function tooLarge(n: number, limit: number, flag: string): LogsrvError {
  return new LogsrvError(
    'LOGSRV_ERR_BODY_TOO_LARGE',
    `request body too large: ${n > limit ? `over ${formatBytes(limit)}` : formatBytes(n)}, limit ${formatBytes(limit)} (${flag})`,
  );
}

async function* chunks(stream: Readable, limit: number, flag: string): AsyncGenerator<Buffer> {
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > limit) throw tooLarge(total, limit, flag);
      yield buf;
    }
  } catch (err) {
    if (err instanceof LogsrvError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('Z_')) throw new LogsrvError('LOGSRV_ERR_BAD_ENCODING', `body could not be gunzipped: ${(err as Error).message}`);
    throw err;
  }
}

async function ingestNdjson(run: IngestRun, stream: Readable, o: HttpIngestOptions): Promise<void> {
  const splitter = new LineSplitter(o.maxLineBytes, (index, text, error) => {
    if (error) return run.reject(index, error.reason, error.error);
    const t = text as string;
    if (t.length === 0 || t.trim().length === 0) return; // blank lines count for numbering only
    run.add(index, acceptLine(t, o.resolveSession), t.length);
  });
  try {
    for await (const chunk of chunks(stream, o.maxBodyBytes, '--max-body-bytes')) {
      splitter.push(chunk);
      if (run.full()) await run.flush();
    }
  } catch (err) {
    await run.fail(err);
  }
  splitter.end();
  o.metrics.received.inc({ transport: 'http' }, splitter.lines);
  await run.finish();
}

async function ingestJson(run: IngestRun, stream: Readable, o: HttpIngestOptions): Promise<void> {
  const limit = Math.min(o.maxJsonBodyBytes, o.maxBodyBytes);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of chunks(stream, limit, '--max-json-body-bytes, or send NDJSON, which streams')) {
    parts.push(chunk);
    size += chunk.length;
  }
  const body = Buffer.concat(parts, size);
  if (!isUtf8(body)) throw new LogsrvError('LOGSRV_ERR_INVALID_UTF8', 'body is not valid UTF-8');
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new LogsrvError(
      'LOGSRV_ERR_INVALID_JSON',
      `body is not valid JSON: ${(err as Error).message} (for one event per line send Content-Type: application/x-ndjson)`,
    );
  }
  const items = Array.isArray(doc) ? doc : [doc];
  o.metrics.received.inc({ transport: 'http' }, items.length);
  const approx = items.length > 0 ? Math.ceil(size / items.length) : 0;
  for (let i = 0; i < items.length; i++) {
    // One event size limit whatever the body type: an event is as large as its JSON text, the
    // measure an NDJSON line has (the body itself for a single event; re-serialized in an array).
    // Items are measured only when the whole body is over the limit.
    const eventBytes = !Array.isArray(doc) ? size : size > o.maxLineBytes ? Buffer.byteLength(JSON.stringify(items[i])) : 0;
    if (eventBytes > o.maxLineBytes) {
      run.reject(
        i,
        'line_too_large',
        `event too large: ${formatBytes(eventBytes)}, limit ${formatBytes(o.maxLineBytes)} (--max-line-bytes); split long output into several events`,
      );
      continue;
    }
    run.add(i, acceptValue(items[i], o.resolveSession), approx);
    if (run.full()) await run.flush();
  }
  await run.finish();
}

export function registerHttpIngest(app: FastifyInstance, o: HttpIngestOptions): void {
  app.register(async (scope) => {
    // Every body reaches the handler as the raw stream: limits, gzip and streaming are ours.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

    scope.post('/v1/events', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.body === undefined || req.body === null) {
        throw new LogsrvError('LOGSRV_ERR_NO_VALID_EVENTS', 'empty body: send one JSON event, an array, or NDJSON lines');
      }
      const kind = bodyKind(req);
      const declared = Number(req.headers['content-length'] ?? Number.NaN);
      const limit = kind === 'json' ? Math.min(o.maxJsonBodyBytes, o.maxBodyBytes) : o.maxBodyBytes;
      const identity = (req.headers['content-encoding'] ?? 'identity') === 'identity';
      if (identity && declared > limit) {
        reply.header('connection', 'close');
        throw tooLarge(declared, limit, kind === 'json' ? '--max-json-body-bytes' : '--max-body-bytes');
      }
      const token = tokenOf(req);
      const rule = token?.eventsPerSecond ? { perSecond: token.eventsPerSecond, burst: token.eventsBurst ?? 2 * token.eventsPerSecond } : null;
      if (o.quota && token && rule) {
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
      }
      const full = o.disk?.refusal();
      if (full) {
        reply.header('retry-after', String(DISK_FULL_RETRY_AFTER_S));
        reply.header('connection', 'close'); // the body is not read
        throw full;
      }
      const stream = bodyStream(req);
      const run = new IngestRun(o);
      run.restrict = ingestRestriction(token);
      if (o.quota && token && rule) {
        const quota = o.quota;
        run.charge = (n) => quota.charge(token.id, n, rule);
      }
      try {
        if (kind === 'json') await ingestJson(run, stream, o);
        else await ingestNdjson(run, stream, o);
      } catch (caught) {
        // A store failure that means a full disk is said as such (507), not as an internal error.
        const full = o.disk?.storeFailure(caught);
        const err = full ?? caught;
        if (full) reply.header('retry-after', String(DISK_FULL_RETRY_AFTER_S));
        if (err instanceof LogsrvError) {
          // Whatever was committed before the failure is reported with the error.
          if (err.code === 'LOGSRV_ERR_BODY_TOO_LARGE') reply.header('connection', 'close');
          if (run.accepted > 0 || run.rejectedTotal > 0) {
            throw new LogsrvError(err.code, err.message, { accepted: run.accepted, rejected: run.rejected, rejectedTotal: run.rejectedTotal });
          }
        }
        throw err;
      }
      const body: Record<string, unknown> = { accepted: run.accepted, rejected: run.rejected };
      if (run.rejectedTotal > run.rejected.length) body.rejectedTotal = run.rejectedTotal;
      if (run.duplicates > 0) body.duplicates = run.duplicates;
      if (run.accepted === 0) {
        const message =
          run.rejectedTotal === 0 ? 'empty body: send one JSON event, an array, or NDJSON lines' : `no valid event in the request: ${run.rejected[0]?.error}`;
        return reply.code(400).send({ error: { code: 'LOGSRV_ERR_NO_VALID_EVENTS', message }, ...body });
      }
      return reply.code(200).send(body);
    });
  });
}
