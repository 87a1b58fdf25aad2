/**
 * `--idle-timeout-ms` closes a connection with no traffic either way: a stalled upload, a client
 * that went away. While the server is still working out a read's answer, though, the silence is
 * the server's own — a search over days without a full-text index, a report over a long range —
 * and cutting the connection then left the client with no answer at all (seen at 60 s on a
 * filtered read of a 754k-event session). So the socket's idle timer is off from the handler's
 * start until its reply is sent, and on again for the transfer of the body and what follows.
 *
 * Only read routes (GET/HEAD) get these hooks, chosen once as each route is registered: an
 * upload's body streams inside its handler, where a stall must still time out. Tails keep the
 * timer: their heartbeats keep an open tail alive, and a viewer that stops reading must still be
 * cut. Must be called before the routes are registered.
 */
import type { FastifyInstance, onSendHookHandler, preHandlerHookHandler } from 'fastify';

export function idleTimerOffWhileAnswering(app: FastifyInstance, idleTimeoutMs: number, isTail: (routeUrl: string) => boolean): void {
  const off: preHandlerHookHandler = (req, _reply, done) => {
    req.raw.socket?.setTimeout(0);
    done();
  };
  const on: onSendHookHandler = (req, _reply, payload, done) => {
    req.raw.socket?.setTimeout(idleTimeoutMs);
    done(null, payload);
  };
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.every((m) => m === 'GET' || m === 'HEAD') || isTail(route.url)) return;
    route.preHandler = [...hooks(route.preHandler), off];
    route.onSend = [...hooks(route.onSend), on];
  });
}

function hooks<T>(h: T | T[] | undefined): T[] {
  return h === undefined ? [] : Array.isArray(h) ? h : [h];
}
