/**
 * The idle timeout against the server's own silence (http/answer-timer.ts): a read whose answer
 * takes longer than the idle timeout still gets it, while a tail and a stalled response body are
 * still cut. Real sockets, fastify with the same connection timeout the server uses.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { idleTimerOffWhileAnswering } from '../src/http/answer-timer.ts';

const IDLE_MS = 200;

async function server(withHook: boolean) {
  const app = Fastify({ connectionTimeout: IDLE_MS });
  if (withHook) idleTimerOffWhileAnswering(app, IDLE_MS, (url) => url.endsWith('/tail'));
  app.get('/slow', async () => {
    await sleep(IDLE_MS * 4);
    return { answer: 42 };
  });
  app.get('/x/tail', async () => {
    await sleep(IDLE_MS * 4);
    return { answer: 'late' };
  });
  app.get('/stalled-body', async (_req, reply) => {
    // One chunk, then nothing: the client waits for the rest of a body that never comes.
    const body = new Readable({ read() {} });
    body.push('{"start":');
    return reply.type('application/json').send(body);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/** GET → status and body, or the error the connection ended with. */
function get(url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        body += s;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ error: e.message }));
      res.on('aborted', () => resolve({ error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
  });
}

test('without the hook, an answer slower than the idle timeout never arrives (what the hook is for)', async () => {
  const { app, url } = await server(false);
  try {
    const r = await get(`${url}/slow`);
    assert.ok('error' in r, `the connection was cut: ${JSON.stringify(r)}`);
  } finally {
    await app.close();
  }
});

test('a read slower than the idle timeout gets its answer; a tail and a stalled body are still cut', { timeout: 20_000 }, async () => {
  const { app, url } = await server(true);
  try {
    assert.deepEqual(await get(`${url}/slow`), { status: 200, body: '{"answer":42}' });
    const tail = await get(`${url}/x/tail`);
    assert.ok('error' in tail, `the tail route keeps the idle timeout: ${JSON.stringify(tail)}`);
    const stalled = await get(`${url}/stalled-body`);
    assert.ok('error' in stalled, `a body that stops flowing is cut after the answer started: ${JSON.stringify(stalled)}`);
  } finally {
    await app.close();
  }
});
