/**
 * One streamed request's batches through the queue (ingest/http-ingest.ts): while a batch commits,
 * the body goes on being read and parsed, but the next batch is handed to the queue only after that
 * commit, and never after a batch that failed. The test is the writer: it takes batches from a real
 * MemoryQueue and commits (acks) or fails them when it chooses, over a real socket.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerHttpIngest } from '../src/ingest/http-ingest.ts';
import { createMetrics, type Metrics } from '../src/metrics.ts';
import { MemoryQueue } from '../src/queue/memory-queue.ts';
import { until } from './helpers.ts';

const line = (i: number) => `${JSON.stringify({ session: 'pipe', key: 'out', value: `line ${i}` })}\n`;

async function rejectedSoFar(metrics: Metrics): Promise<number> {
  return (await metrics.rejected.get()).values.reduce((n, v) => n + v.value, 0);
}

describe('a streamed request whose batches commit one at a time', () => {
  let app: FastifyInstance;
  let queue: MemoryQueue;
  let metrics: Metrics;
  let port: number;
  /** Requests of the test: ended at its end whatever happened, so the server can close. */
  let open: ReturnType<typeof request>[] = [];

  beforeEach(async () => {
    queue = new MemoryQueue({ maxEvents: 10_000, maxBytes: 1 << 24, lastId: null, clock: Date.now });
    metrics = createMetrics();
    app = Fastify();
    registerHttpIngest(app, {
      queue,
      metrics,
      maxBodyBytes: 1 << 20,
      maxJsonBodyBytes: 1 << 16,
      maxLineBytes: 4096,
      requestBatchEvents: 2,
      maxRejectedReported: 100,
      queueWaitMs: 1000,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    for (const r of open) r.destroy();
    open = [];
    queue.close();
    app.server.closeAllConnections();
    await app.close();
  });

  /** A chunked POST the test writes piece by piece; resolves with the answer once it is ended. */
  function post() {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/x-ndjson' } });
    open.push(req);
    const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
    });
    answer.catch(() => {}); // a test that fails before its answer leaves the request to afterEach
    return { req, answer };
  }

  test('the body is read and parsed while its first batch commits; the next batch is published after that commit', async () => {
    const { req, answer } = post();
    req.write(line(0) + line(1));
    const first = await queue.take(100);
    assert.equal(first?.events.length, 2);
    // Written only now that batch 1 is in the queue: two more events and a broken line.
    req.write(`${line(2)}${line(3)}{broken\n`);
    await until('the body to be read on while its first batch waits for its commit', async () => (await rejectedSoFar(metrics)) === 1, 5000);
    assert.equal(queue.depth, 0, 'the second batch was published before the first was committed');
    await queue.ack(first as NonNullable<typeof first>, undefined);
    const second = await queue.take(100);
    assert.deepEqual(
      second?.events.map((e) => e.value),
      ['line 2', 'line 3'],
    );
    req.end();
    await queue.ack(second as NonNullable<typeof second>, undefined);
    const { status, body } = await answer;
    assert.equal(status, 200);
    assert.equal(body.accepted, 4);
    assert.deepEqual(
      body.rejected.map((r: { index: number }) => r.index),
      [4],
    );
  });

  test('a batch that fails stops the request: the batch read behind it is never published', async () => {
    const { req, answer } = post();
    req.write(line(0) + line(1));
    const first = await queue.take(100);
    req.write(`${line(2)}${line(3)}{broken\n`);
    await until('the body to be read on while its first batch waits for its commit', async () => (await rejectedSoFar(metrics)) === 1, 5000);
    await queue.fail(first as NonNullable<typeof first>, new Error('the disk broke'));
    const { status, body } = await answer;
    assert.equal(status, 500, JSON.stringify(body));
    assert.equal(queue.depth, 0, 'a batch was published after the one before it failed');
  });
});
