/**
 * `--idle-timeout-ms` closes a connection with no traffic either way: a stalled upload, a client
 * that went away. While the server is still working out a read's answer, though, the silence is
 * the server's own — a search over days without a full-text index, a report over a long range —
 * and cutting the connection then left the client with no answer at all (seen at 60 s on a
 * filtered read of a 754k-event session). So the socket's idle timer is off from the handler's
 * start until its reply is sent, and on again for the transfer of the body and what follows.
 *
 * Only reads (GET/HEAD) are concerned: an upload's body streams inside its handler, where a stall
 * must still time out. Tails keep the timer: their heartbeats keep an open tail alive, and a
 * viewer that stops reading must still be cut.
 */
import type { FastifyInstance } from 'fastify';

export function idleTimerOffWhileAnswering(app: FastifyInstance, idleTimeoutMs: number, isTail: (routeUrl: string) => boolean): void {
  const held = new WeakSet<object>();
  app.addHook('preHandler', (req, _reply, done) => {
    const socket = req.raw.socket;
    if ((req.method === 'GET' || req.method === 'HEAD') && socket && !isTail(req.routeOptions.url ?? '')) {
      socket.setTimeout(0);
      held.add(req);
    }
    done();
  });
  app.addHook('onSend', (req, _reply, payload, done) => {
    if (held.delete(req)) req.raw.socket?.setTimeout(idleTimeoutMs);
    done(null, payload);
  });
}
