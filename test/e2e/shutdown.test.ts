/**
 * Graceful shutdown (SPEC §2, §6): on SIGTERM the server stops taking requests, answers the ones
 * in flight, drains the queue into the store and exits 0 with 'stopped cleanly'. A 200 is a
 * promise that the events are stored; a request the server no longer takes is refused (503 or a
 * refused connection), never answered 200 and then dropped.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { Response } from './helpers.js';
import { isConnectionError, json, postNdjson, readAll, request, sleep, startServer, tempDir, waitExit } from './helpers.js';

const CLIENTS = 4;

test('SIGTERM while clients post: every 200 is stored, later requests are refused, exit code 0', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir(t);
  const server = await startServer(t, { dataDir });
  const session = 'shutdown-session';
  let sigtermAt = 0;
  const acked: string[] = [];
  let first503: Response | undefined;
  const stats = { ok: 0, okAfterSigterm: 0, refused503: 0, refusedConn: 0, resets: 0, other: [] as string[] };

  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    // Keep-alive sockets, so some requests meet the closing server on an open connection (503)
    // and others find the port closed (connection refused).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let n = 0;
    let refusedAfterExit = 0;
    try {
      while (refusedAfterExit < 3) {
        const values = Array.from({ length: 25 }, () => `c${c}-${n++}`);
        const sentAfterExit = !server.running();
        let res: Response;
        try {
          res = await postNdjson(
            server.url,
            values.map((value) => ({ session, key: `client-${c}`, value })),
            { agent },
          );
        } catch (err) {
          if (!isConnectionError(err)) throw err;
          if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') stats.refusedConn++;
          else stats.resets++;
          if (sentAfterExit) refusedAfterExit++;
          await sleep(5);
          continue;
        }
        if (res.status === 200) {
          const accepted = json(res).accepted;
          if (accepted !== values.length) stats.other.push(`200 with accepted ${accepted}, sent ${values.length}`);
          acked.push(...values);
          stats.ok++;
          if (sigtermAt) stats.okAfterSigterm++;
        } else if (res.status === 503) {
          stats.refused503++;
          first503 ??= res;
          await sleep(5);
        } else stats.other.push(`${res.status} ${res.text.slice(0, 200)}`);
      }
    } finally {
      agent.destroy();
    }
  });

  await sleep(1000);
  sigtermAt = Date.now();
  server.kill('SIGTERM');
  const exit = await waitExit(server, 20_000);
  const stopMs = Date.now() - sigtermAt;
  await Promise.all(clients);
  if (first503) t.diagnostic(`a 503 during shutdown: retry-after ${first503.headers['retry-after']}, body ${first503.text}`);
  t.diagnostic(`stopped in ${stopMs} ms; ${JSON.stringify({ ...stats, other: stats.other.length })}`);

  assert.deepEqual(stats.other, [], 'answers other than 200 and 503');
  assert.equal(exit.code, 0, `exit code; stderr:\n${server.stderr()}`);
  assert.match(server.stderr(), /stopped cleanly/);
  assert.ok(stats.ok > 0, 'some requests were acknowledged before SIGTERM');
  assert.ok(stats.refusedConn >= CLIENTS, 'requests after the exit find the port closed');

  const restarted = await startServer(t, { dataDir });
  const events = await readAll(restarted.url, session);
  const count = new Map<string, number>();
  for (const e of events) count.set(String(e.value), (count.get(String(e.value)) ?? 0) + 1);
  const missing = acked.filter((v) => count.get(v) !== 1);
  assert.equal(missing.length, 0, `${missing.length} of ${acked.length} acknowledged events not stored exactly once, e.g. ${missing.slice(0, 5)}`);
});

test('a request in flight at SIGTERM is answered 200 and stored, while new requests are refused', { timeout: 60_000 }, async (t) => {
  const dataDir = tempDir(t);
  const server = await startServer(t, { dataDir });
  const session = 'inflight-session';
  const line = (i: number) => `${JSON.stringify({ session, key: 'stdout', value: `slow line ${i}` })}\n`;

  // A chunked upload that has begun but not ended when the signal arrives.
  const body = new PassThrough();
  const slow = request(`${server.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  for (let i = 0; i < 10; i++) body.write(line(i));
  await sleep(300);

  server.kill('SIGTERM');
  await sleep(300);
  assert.ok(server.running(), 'the server waits for the request in flight');

  // A new request while the server drains is refused, not taken.
  let refusal: string;
  try {
    const r = await postNdjson(server.url, [{ session, key: 'stdout', value: 'too late' }], { timeoutMs: 5000 });
    refusal = String(r.status);
  } catch (err) {
    if (!isConnectionError(err)) throw err;
    refusal = (err as NodeJS.ErrnoException).code ?? 'reset';
  }
  assert.ok(['503', 'ECONNREFUSED'].includes(refusal), `new request during shutdown answered ${refusal}`);

  for (let i = 10; i < 20; i++) body.write(line(i));
  body.end();
  const res = await slow;
  assert.equal(res.status, 200, res.text);
  assert.equal(json(res).accepted, 20);

  const exit = await waitExit(server, 20_000);
  assert.equal(exit.code, 0, server.stderr());
  assert.match(server.stderr(), /stopped cleanly/);

  const restarted = await startServer(t, { dataDir });
  const events = await readAll(restarted.url, session);
  assert.deepEqual(
    events.map((e) => e.value),
    Array.from({ length: 20 }, (_, i) => `slow line ${i}`),
  );
});

test('a request pipelined on an open connection during shutdown gets 503 with Retry-After and LOGSRV_ERR_SHUTTING_DOWN', { timeout: 60_000 }, async (t) => {
  const server = await startServer(t);
  const { hostname, port } = new URL(server.url);
  const socket = net.connect(Number(port), hostname);
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('utf8').on('data', (s: string) => {
    received += s;
  });
  const line = `${JSON.stringify({ session: 'pipelined', key: 'stdout', value: 'in flight' })}\n`;
  const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  // Request 1: a chunked upload still open when SIGTERM arrives, so the connection stays active.
  socket.write(`POST /v1/events HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(line)}`);
  await sleep(300);
  server.kill('SIGTERM');
  await sleep(300);
  // Its last chunk and, pipelined behind it on the same connection, request 2.
  const second = JSON.stringify({ session: 'pipelined', key: 'stdout', value: 'after close' });
  socket.write(
    `0\r\n\r\nPOST /v1/events HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${Buffer.byteLength(second)}\r\n\r\n${second}`,
  );
  const deadline = Date.now() + 10_000;
  while ((received.match(/HTTP\/1\.1 /g) ?? []).length < 2 && !socket.closed && Date.now() < deadline) await sleep(20);
  socket.destroy();
  const responses = received.split(/(?=HTTP\/1\.1 \d{3} )/);
  assert.match(responses[0] ?? '', /^HTTP\/1\.1 200 /, `first response:\n${received}`);
  const refused = responses[1] ?? '';
  assert.match(refused, /^HTTP\/1\.1 503 /, `pipelined request during shutdown:\n${received}`);
  assert.match(refused, /\r\nretry-after: \d+\r\n/i, `a 503 tells the client when to retry:\n${refused}`);
  assert.match(refused, /"code":"LOGSRV_ERR_SHUTTING_DOWN"/, `a 503 during shutdown uses the error table:\n${refused}`);
  assert.equal((await waitExit(server, 20_000)).code, 0);
});
