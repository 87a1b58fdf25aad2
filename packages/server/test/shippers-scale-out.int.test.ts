/**
 * The shippers' receivers over the scale-out engines: Redis Streams queue and PostgreSQL store
 * (issue: scale-out). A record from each protocol is answered only after commit and reads back
 * from PostgreSQL; `(producer, seq)` is not involved, so ids come from the queue.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';
import { freshPgDatabase, redisOrSkip } from './services.ts';

const REDIS = 'redis://127.0.0.1:6379/7';

describe('shippers over Redis Streams and PostgreSQL', () => {
  let srv: TestServer | null = null;
  let pg: Awaited<ReturnType<typeof freshPgDatabase>> = null;
  before(async () => {
    if (!(await redisOrSkip(REDIS, { flush: true }))) return;
    pg = await freshPgDatabase();
    if (!pg) return;
    srv = await startTestServer({ queue: REDIS, store: pg.url, queueShards: 2, syslogTcp: '127.0.0.1:0' });
  });
  after(async () => {
    await srv?.dispose();
    await pg?.drop();
  });

  test('OTLP, Loki, bulk and syslog records are committed before the answer and read back', async (t) => {
    if (!srv) return t.skip('Redis or PostgreSQL is not available');
    const session = 'scale-shippers';
    const otlp = await fetch(`${srv.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'otlp' }, attributes: [{ key: 'session', value: { stringValue: session } }] }] }] }],
      }),
    });
    assert.equal(otlp.status, 200);
    const loki = await fetch(`${srv.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ streams: [{ stream: { session }, values: [['1733393000000000000', 'loki']] }] }),
    });
    assert.equal(loki.status, 204);
    const bulk = await fetch(`${srv.url}/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `{"create":{"_index":"i"}}\n{"message":"es","session":"${session}"}\n`,
    });
    assert.equal(((await bulk.json()) as { items: { create: { status: number } }[] }).items[0]?.create.status, 201);
    // Answered after commit: readable at once.
    assert.deepEqual((await readAll(srv.url, session)).map((e) => e.value).sort(), ['es', 'loki', 'otlp']);

    const sock = connect(srv.syslogTcpPort as number, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.end(`<14>1 2026-12-05T10:00:00Z h app - - [x@1 session="${session}"] syslog\n`);
    const deadline = Date.now() + 10_000;
    let values: string[] = [];
    while (Date.now() < deadline && values.length < 4) {
      values = (await readAll(srv.url, session)).map((e) => e.value).sort();
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(values, ['es', 'loki', 'otlp', 'syslog']);
  });
});
