/**
 * Elasticsearch's `_bulk` endpoint as Filebeat, Fluent Bit, Vector, Logstash and the official
 * clients use it: `POST /_bulk` and `POST /<index>/_bulk` (also `PUT`), NDJSON bodies as
 * `application/x-ndjson`, `application/json` or `application/vnd.elasticsearch+x-ndjson;
 * compatible-with=N`, gzip allowed. `index` and `create` store their document; `delete` and
 * `update` fail their item (logsrv keeps events, it does not edit them).
 *
 * The answer is Elasticsearch's: `200` with `{took, errors, items}` once every stored document
 * is committed, one item per action in order, `201 created` or the item's error (`400
 * document_parsing_exception`, `403 security_exception` for a token restriction), and a malformed
 * request gets one `400` with `{error: {root_cause, type, reason}, status}`. Every answer carries
 * `X-Elastic-Product: Elasticsearch`, which the official clients require. `GET /` answers the
 * cluster info those shippers ask for first, when the request comes from one (see below).
 */
import { randomBytes } from 'node:crypto';
import { LogsrvError } from '@logsrv/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Rejection } from '../accept.js';
import type { HttpIngestOptions } from '../http-ingest.js';
import { SessionTemplate } from '../session-template.js';
import { admitQuota, type Candidate, countGarbage, ingestCandidates, rawBodies, readBody } from '../shipper-ingest.js';
import { BulkSyntaxError, parseBulk } from './parse-bulk.js';
import { bulkCandidate } from './to-events.js';

/** The version answered at `GET /`: shippers that read it (Filebeat, Vector) then speak the 8.x bulk dialect sent here. */
export const ES_VERSION = '8.17.0';

function contentType(req: FastifyRequest): string {
  const accept = String(req.headers.accept ?? '');
  const m = /compatible-with=(\d+)/.exec(accept);
  return m && accept.includes('vnd.elasticsearch') ? `application/vnd.elasticsearch+json;compatible-with=${m[1]}` : 'application/json; charset=utf-8';
}

function esError(reply: FastifyReply, req: FastifyRequest, status: number, type: string, reason: string) {
  return reply
    .code(status)
    .header('x-elastic-product', 'Elasticsearch')
    .type(contentType(req))
    .send({ error: { root_cause: [{ type, reason }], type, reason }, status });
}

function errorType(status: number): string {
  if (status === 429) return 'es_rejected_execution_exception';
  if (status === 503) return 'unavailable_shards_exception';
  if (status === 413) return 'content_too_long_exception';
  if (status === 401 || status === 403) return 'security_exception';
  return 'illegal_argument_exception';
}

/** 20 URL-safe characters, the shape of an Elasticsearch auto-generated id. */
function newId(): string {
  return randomBytes(15).toString('base64url');
}

/**
 * Elastic's shippers ask `GET /` for the cluster version before their first bulk; a browser asks
 * the same URL for the web UI. Told apart by what the request asks for: an Elastic client sends
 * `X-Elastic-Client-Meta` or an `application/vnd.elasticsearch` Accept, Beats and Vector name
 * themselves in User-Agent, and none of them asks for `text/html`.
 */
function fromElasticClient(req: FastifyRequest): boolean {
  const accept = String(req.headers.accept ?? '');
  if (accept.includes('text/html')) return false;
  if (req.headers['x-elastic-client-meta'] !== undefined || accept.includes('vnd.elasticsearch')) return true;
  return /beat|elastic|vector|fluent|logstash|go-http-client/i.test(String(req.headers['user-agent'] ?? ''));
}

export function registerElasticsearch(app: FastifyInstance, o: HttpIngestOptions, sessionTemplate: string): void {
  const template = new SessionTemplate(sessionTemplate);
  app.addHook('onRequest', async (req, reply) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.url !== '/' || !fromElasticClient(req)) return;
    return reply
      .header('x-elastic-product', 'Elasticsearch')
      .type(contentType(req))
      .send({
        name: 'logsrv',
        cluster_name: 'logsrv',
        cluster_uuid: 'logsrv',
        version: {
          number: ES_VERSION,
          build_flavor: 'default',
          build_type: 'logsrv',
          lucene_version: '9.12.0',
          minimum_wire_compatibility_version: '7.17.0',
          minimum_index_compatibility_version: '7.0.0',
        },
        tagline: 'You Know, for Search',
      });
  });
  app.register(async (scope) => {
    rawBodies(scope);
    // Refusals of the shared hooks (auth, rate limit, shutdown) in Elasticsearch's error shape.
    scope.setErrorHandler((err, req, reply) => {
      if (!(err instanceof LogsrvError)) throw err;
      if (err.status === 503) reply.header('retry-after', '1');
      return esError(reply, req, err.status, errorType(err.status), err.message);
    });
    const handler = async (req: FastifyRequest<{ Params: { index?: string } }>, reply: FastifyReply) => {
      const started = Date.now();
      const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      if (
        ct !== '' &&
        ct !== 'application/x-ndjson' &&
        ct !== 'application/json' &&
        ct !== 'application/vnd.elasticsearch+x-ndjson' &&
        ct !== 'application/vnd.elasticsearch+json'
      ) {
        countGarbage(o.metrics, 'elasticsearch', 'unsupported_media_type');
        return esError(reply, req, 406, 'media_type_header_exception', `Content-Type ${ct} is not supported: send application/x-ndjson`);
      }
      try {
        const charge = await admitQuota(req, reply, o);
        const body = await readBody(req, o.maxJsonBodyBytes, '--max-json-body-bytes');
        let items: ReturnType<typeof parseBulk>;
        try {
          items = parseBulk(body.toString('utf8'), req.params.index);
        } catch (err) {
          if (!(err instanceof BulkSyntaxError)) throw err;
          countGarbage(o.metrics, 'elasticsearch', 'invalid_bulk');
          return esError(reply, req, 400, 'illegal_argument_exception', err.message);
        }
        if (items.length === 0) {
          countGarbage(o.metrics, 'elasticsearch', 'invalid_bulk');
          return esError(reply, req, 400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
        }
        const ids = items.map((it) => it.id ?? newId());
        const candidates: (Candidate | Rejection)[] = items.map((it, i) => {
          if (it.action === 'delete' || it.action === 'update')
            return { reason: 'wrong_type', error: `action ${it.action} is not supported: logsrv stores events, send index or create` };
          if (it.index === undefined)
            return { reason: 'missing_field', error: 'index is missing: name it in the action (_index) or the path (/<index>/_bulk)' };
          if ('error' in it.doc) return { reason: 'invalid_json', error: it.doc.error as string };
          return bulkCandidate(it.doc as Record<string, unknown>, it.index, ids[i] as string, template);
        });
        const r = await ingestCandidates(req, 'elasticsearch', candidates, o, charge);
        let seq = 0;
        const out = items.map((it, i) => {
          const rej = r.results[i];
          const base = { _index: it.index ?? '', _id: ids[i] };
          if (!rej) {
            return {
              [it.action]: {
                ...base,
                _version: 1,
                result: 'created',
                _shards: { total: 1, successful: 1, failed: 0 },
                _seq_no: seq++,
                _primary_term: 1,
                status: 201,
              },
            };
          }
          const status = rej.reason === 'forbidden' ? 403 : 400;
          const type =
            rej.reason === 'forbidden'
              ? 'security_exception'
              : it.action === 'delete' || it.action === 'update' || rej.reason === 'missing_field'
                ? 'action_request_validation_exception'
                : 'document_parsing_exception';
          return { [it.action]: { ...base, status, error: { type, reason: `${rej.error} (${rej.reason})` } } };
        });
        return reply
          .code(200)
          .header('x-elastic-product', 'Elasticsearch')
          .type(contentType(req))
          .send({ took: Date.now() - started, errors: r.rejected > 0, items: out });
      } catch (err) {
        if (!(err instanceof LogsrvError)) throw err;
        if (err.status === 503) reply.header('retry-after', '1');
        if (err.status === 400 || err.status === 413 || err.status === 415)
          countGarbage(o.metrics, 'elasticsearch', err.code.slice('LOGSRV_ERR_'.length).toLowerCase());
        return esError(reply, req, err.status, errorType(err.status), err.message);
      }
    };
    for (const url of ['/_bulk', '/:index/_bulk']) {
      scope.post(url, handler);
      scope.put(url, handler);
    }
  });
}
