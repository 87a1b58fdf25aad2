/** `PUT /v1/sessions/:session` (SPEC §3, §5): register a session's user, terminal and attrs. */
import { LogsrvError, MAX_FIELD_CHARS } from '@logsrv/protocol';
import type { FastifyInstance } from 'fastify';
import type { Registration } from '../store/store.js';
import type { SessionRegistry } from './session-registry.js';

/** Largest `attrs` of a registration, as JSON text. */
export const MAX_REGISTRATION_ATTRS_BYTES = 64 * 1024;

function bad(message: string): LogsrvError {
  return new LogsrvError('LOGSRV_ERR_BAD_BODY', message);
}

/** Checks a registration body; every problem names the field and what is allowed. */
export function parseRegistration(body: unknown): Registration {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('body must be a JSON object like {"user": "alice", "terminal": "tty1", "attrs": {...}} (Content-Type: application/json)');
  }
  const reg: Registration = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (k === 'user' || k === 'terminal') {
      if (typeof v !== 'string' || v.length === 0 || v.length > MAX_FIELD_CHARS) {
        throw bad(
          `field '${k}' must be a string of 1 to ${MAX_FIELD_CHARS} characters, got ${v === null ? 'null' : typeof v === 'string' ? `${v.length} characters` : typeof v}`,
        );
      }
      reg[k] = v;
    } else if (k === 'attrs') {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw bad(`field 'attrs' must be an object, got ${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v}`);
      const size = Buffer.byteLength(JSON.stringify(v));
      if (size > MAX_REGISTRATION_ATTRS_BYTES) throw bad(`field 'attrs' is ${size} bytes of JSON, limit ${MAX_REGISTRATION_ATTRS_BYTES}`);
      reg.attrs = v as Record<string, unknown>;
    } else {
      throw bad(`unknown field '${k}' (known: user, terminal, attrs)`);
    }
  }
  return reg;
}

export function registerRegistryRoutes(app: FastifyInstance, registry: SessionRegistry): void {
  app.put('/v1/sessions/:session', async (req, reply) => {
    const { session } = req.params as { session: string };
    if (session.length === 0 || session.length > MAX_FIELD_CHARS) {
      throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `session must be 1 to ${MAX_FIELD_CHARS} characters`);
    }
    const r = await registry.register(session, parseRegistration(req.body));
    return reply.code(r.created ? 201 : 200).send(r.registration);
  });
}
