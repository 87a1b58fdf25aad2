/**
 * The HTTP receivers of the shippers' protocols (one folder each): OTLP/HTTP logs at `/v1/logs`,
 * Loki push at `/loki/api/v1/push`, Elasticsearch bulk at `/_bulk` and `/<index>/_bulk`. Syslog is
 * not HTTP; the composition root starts it (syslog/index.ts).
 */
import type { FastifyInstance } from 'fastify';
import { registerElasticsearch } from './elasticsearch/bulk-route.js';
import type { HttpIngestOptions } from './http-ingest.js';
import { registerLoki } from './loki/loki-route.js';
import { registerOtlp } from './otlp/otlp-route.js';

/** The session templates of the HTTP shipper protocols (`--otlp-session`, ...). */
export interface ShipperSessions {
  otlp: string;
  loki: string;
  elasticsearch: string;
}

export const DEFAULT_SHIPPER_SESSIONS: ShipperSessions = { otlp: '{trace_id}|{service.name}|otlp', loki: '{labels}', elasticsearch: '{_index}' };

/** Paths whose requests carry events (the `ingest` scope), beside `POST /v1/events`. */
export function isShipperIngestPath(method: string, path: string): boolean {
  if (method !== 'POST' && method !== 'PUT') return false;
  return path === '/v1/logs' || path === '/loki/api/v1/push' || path === '/_bulk' || /^\/[^/]+\/_bulk$/.test(path);
}

export function registerShipperRoutes(app: FastifyInstance, o: HttpIngestOptions, sessions: ShipperSessions = DEFAULT_SHIPPER_SESSIONS): void {
  registerOtlp(app, o, sessions.otlp);
  registerLoki(app, o, sessions.loki);
  registerElasticsearch(app, o, sessions.elasticsearch);
}
