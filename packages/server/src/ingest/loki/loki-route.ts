/**
 * `POST /loki/api/v1/push`: Loki's push API — JSON (`application/json`, gzip allowed) or
 * snappy-compressed protobuf (`application/x-protobuf`). `204` once every stored entry is committed.
 * As Loki does, entries that fail validation are left out while the rest are stored, and the
 * answer is then `400` with a plain-text message naming how many and why (Promtail and Alloy do not
 * retry a 400). A body that cannot be decoded: `400`; full queue `503`, token over quota `429`
 * (both retried by the shippers). `Content-Encoding: snappy` is accepted for both body types, and
 * `GET /ready` answers `ready` as Loki's readiness probe does.
 */
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import snappy from 'snappyjs';
import type { HttpIngestOptions } from '../http-ingest.js';
import { SessionTemplate } from '../session-template.js';
import { admitQuota, countGarbage, ingestCandidates, rawBodies, readBody } from '../shipper-ingest.js';
import { decodePush, type PushedStream } from './loki-schema.js';
import { jsonStreams, LokiShapeError, lokiCandidates } from './to-events.js';

function text(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}

function isProtobuf(req: FastifyRequest): boolean | null {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (ct === 'application/x-protobuf' || ct === 'application/protobuf' || ct === '') return true;
  if (ct === 'application/json') return false;
  return null;
}

export function registerLoki(app: FastifyInstance, o: HttpIngestOptions, sessionTemplate: string): void {
  const template = new SessionTemplate(sessionTemplate);
  app.register(async (scope) => {
    rawBodies(scope);
    // Refusals of the shared hooks (auth, rate limit, shutdown) as Loki answers them: plain text.
    scope.setErrorHandler((err, _req, reply) => {
      if (!(err instanceof LogsrvError)) throw err;
      if (err.status === 503) reply.header('retry-after', '1');
      return text(reply, err.status, err.message);
    });
    // Loki's readiness probe, which Vector's Loki sink asks before sending.
    scope.get('/ready', async (_req, reply) => text(reply, 200, 'ready'));
    scope.post('/loki/api/v1/push', async (req, reply) => {
      const proto = isProtobuf(req);
      if (proto === null) {
        countGarbage(o.metrics, 'loki', 'unsupported_media_type');
        return text(reply, 415, `unsupported Content-Type ${req.headers['content-type']}: send application/x-protobuf (snappy) or application/json`);
      }
      // A protobuf push is snappy-compressed by definition; some clients say so in
      // Content-Encoding, and a JSON body may be snappy-compressed the same way.
      const snappyEncoded = String(req.headers['content-encoding'] ?? '').toLowerCase() === 'snappy';
      if (snappyEncoded) delete req.headers['content-encoding'];
      try {
        const charge = await admitQuota(req, reply, o);
        const body = await readBody(req, o.maxJsonBodyBytes, '--max-json-body-bytes');
        let streams: PushedStream[];
        try {
          streams = proto
            ? decodePush(body, o.maxJsonBodyBytes)
            : jsonStreams(JSON.parse(Buffer.from(snappyEncoded ? snappy.uncompress(body, o.maxJsonBodyBytes) : body).toString('utf8')));
        } catch (err) {
          const reason = err instanceof LokiShapeError ? 'invalid_loki' : proto ? 'invalid_protobuf' : 'invalid_json';
          countGarbage(o.metrics, 'loki', reason);
          return text(reply, 400, `body is not a Loki push request (${proto ? 'snappy-compressed protobuf' : 'JSON'}): ${(err as Error).message}`);
        }
        const candidates = lokiCandidates(streams, template);
        const r = await ingestCandidates(req, 'loki', candidates, o, charge);
        if (r.rejected === 0) return reply.code(204).send();
        const first = r.results.filter((x) => x !== null).slice(0, 3);
        return text(
          reply,
          400,
          `${r.rejected} of ${candidates.length} entries rejected (the other ${r.accepted} were stored): ${first.map((x) => `${x?.error} (${x?.reason})`).join('; ')}`,
        );
      } catch (err) {
        if (!(err instanceof LogsrvError)) throw err;
        if (err.status === 503) reply.header('retry-after', '1');
        if (err.status === 400 || err.status === 413 || err.status === 415) countGarbage(o.metrics, 'loki', err.code.slice('LOGSRV_ERR_'.length).toLowerCase());
        return text(reply, err.status, err.message);
      }
    });
  });
}
