/**
 * `POST /v1/logs`: OTLP/HTTP logs (OpenTelemetry protocol spec, "OTLP/HTTP"), binary protobuf
 * (`application/x-protobuf`) or JSON (`application/json`), gzip allowed. Answered in the request's
 * encoding after every stored record is committed: `200` with an `ExportLogsServiceResponse` — empty
 * when all were stored, with `partial_success` (`rejected_log_records` and the first reasons) when
 * some were not. A body that cannot be decoded gets `400` with a `google.rpc.Status`; a full queue
 * `503` and a token over its quota `429`, both with Retry-After (retryable in OTLP's terms).
 */
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpIngestOptions } from '../http-ingest.js';
import { SessionTemplate } from '../session-template.js';
import { admitQuota, countGarbage, ingestCandidates, rawBodies, readBody } from '../shipper-ingest.js';
import { decodeRequest, ExportLogsServiceResponse, RpcStatus } from './otlp-schema.js';
import { OtlpShapeError, otlpCandidates } from './to-events.js';

type Encoding = 'protobuf' | 'json';

function encodingOf(req: FastifyRequest): Encoding | null {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (ct === 'application/x-protobuf' || ct === 'application/protobuf') return 'protobuf';
  if (ct === 'application/json') return 'json';
  return null;
}

/** google.rpc.Status codes for the HTTP statuses answered here. */
function rpcCode(status: number): number {
  if (status === 429) return 8; // RESOURCE_EXHAUSTED
  if (status === 503) return 14; // UNAVAILABLE
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return 7; // PERMISSION_DENIED
  return 3; // INVALID_ARGUMENT
}

function send(reply: FastifyReply, enc: Encoding, status: number, type: 'response' | 'status', body: Record<string, unknown>) {
  reply.code(status);
  if (enc === 'json') return reply.type('application/json').send(body);
  const t = type === 'response' ? ExportLogsServiceResponse : RpcStatus;
  return reply.type('application/x-protobuf').send(Buffer.from(t.encode(t.fromObject(body)).finish()));
}

export function registerOtlp(app: FastifyInstance, o: HttpIngestOptions, sessionTemplate: string): void {
  const template = new SessionTemplate(sessionTemplate);
  app.register(async (scope) => {
    rawBodies(scope);
    // Refusals of the shared hooks (auth, rate limit, shutdown) in OTLP's words too.
    scope.setErrorHandler((err, req, reply) => {
      if (!(err instanceof LogsrvError)) throw err;
      if (err.status === 503) reply.header('retry-after', '1');
      return send(reply, encodingOf(req) ?? 'json', err.status, 'status', { code: rpcCode(err.status), message: err.message });
    });
    scope.post('/v1/logs', async (req, reply) => {
      const enc = encodingOf(req);
      if (enc === null) {
        countGarbage(o.metrics, 'otlp', 'unsupported_media_type');
        return send(reply, 'json', 415, 'status', {
          code: 3,
          message: 'unsupported Content-Type: send application/x-protobuf or application/json (OTLP/HTTP)',
        });
      }
      try {
        const charge = await admitQuota(req, reply, o);
        const body = await readBody(req, o.maxJsonBodyBytes, '--max-json-body-bytes');
        let doc: unknown;
        try {
          doc = enc === 'json' ? JSON.parse(body.toString('utf8')) : decodeRequest(body);
        } catch (err) {
          countGarbage(o.metrics, 'otlp', enc === 'json' ? 'invalid_json' : 'invalid_protobuf');
          return send(reply, enc, 400, 'status', { code: 3, message: `body is not an OTLP ExportLogsServiceRequest in ${enc}: ${(err as Error).message}` });
        }
        let candidates: ReturnType<typeof otlpCandidates>;
        try {
          candidates = otlpCandidates(doc, template);
        } catch (err) {
          if (!(err instanceof OtlpShapeError)) throw err;
          countGarbage(o.metrics, 'otlp', 'invalid_otlp');
          return send(reply, enc, 400, 'status', { code: 3, message: `not an OTLP ExportLogsServiceRequest: ${err.message}` });
        }
        const r = await ingestCandidates(req, 'otlp', candidates, o, charge);
        if (r.rejected === 0) return send(reply, enc, 200, 'response', {});
        const first: string[] = [];
        r.results.forEach((x, i) => {
          if (x && first.length < 3) first.push(`record ${i}: ${x.error} (${x.reason})`);
        });
        const message = `${r.rejected} of ${candidates.length} log records rejected; ${first.join('; ')}`;
        return send(reply, enc, 200, 'response', { partialSuccess: { rejectedLogRecords: String(r.rejected), errorMessage: message } });
      } catch (err) {
        if (!(err instanceof LogsrvError)) throw err;
        if (err.status === 503) reply.header('retry-after', '1');
        if (err.status === 400 || err.status === 413 || err.status === 415) countGarbage(o.metrics, 'otlp', err.code.slice('LOGSRV_ERR_'.length).toLowerCase());
        return send(reply, enc, err.status, 'status', { code: rpcCode(err.status), message: err.message });
      }
    });
  });
}
