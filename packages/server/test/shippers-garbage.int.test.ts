/**
 * Garbage on every shipper protocol: arbitrary bytes (and near-valid bodies) under every content
 * type and encoding get a 4xx from the HTTP receivers — never a 5xx — and arbitrary datagrams and
 * TCP streams go to the syslog receivers; afterwards every receiver still stores a valid record.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import snappy from 'snappyjs';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

describe('shippers survive garbage', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ syslogUdp: '127.0.0.1:0', syslogTcp: '127.0.0.1:0' });
  });
  after(() => srv.dispose());

  test('HTTP receivers answer 4xx to arbitrary bodies, types and encodings', async () => {
    const path = fc.constantFrom('/v1/logs', '/loki/api/v1/push', '/_bulk', '/idx/_bulk');
    const type = fc.constantFrom(
      'application/x-protobuf',
      'application/json',
      'application/x-ndjson',
      'application/vnd.elasticsearch+x-ndjson; compatible-with=9',
      'text/plain',
      '',
    );
    const enc = fc.constantFrom('identity', 'gzip', 'gzip-broken', 'snappy-wrapped');
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ maxLength: 200 }).map((s) => new TextEncoder().encode(s)),
      fc
        .constantFrom(
          '{"resourceLogs":[{"scopeLogs":[{"logRecords":[1,{"body":{"kvlistValue":{"values":7}}}]}]}]}',
          '{"streams":[{"stream":{"a":1},"values":[[1,2]]}]}',
          '{"index":{}}\n',
        )
        .map((s) => new TextEncoder().encode(s)),
    );
    await fc.assert(
      fc.asyncProperty(path, type, enc, bytes, async (p, t, e, b) => {
        let body = Buffer.from(b);
        const headers: Record<string, string> = {};
        if (t) headers['content-type'] = t;
        if (e === 'gzip') {
          body = gzipSync(body);
          headers['content-encoding'] = 'gzip';
        } else if (e === 'gzip-broken') headers['content-encoding'] = 'gzip';
        else if (e === 'snappy-wrapped') body = Buffer.from(snappy.compress(body));
        const res = await fetch(`${srv.url}${p}`, { method: 'POST', headers, body });
        await res.arrayBuffer();
        assert.ok(res.status < 500, `${p} ${t} ${e}: ${res.status}`);
      }),
      { numRuns: RUNS },
    );
  });

  test('syslog receivers take arbitrary datagrams and TCP streams', async () => {
    const udp = createSocket('udp4');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 400 }), { minLength: 1, maxLength: 8 }), async (chunks) => {
        for (const c of chunks) await new Promise<void>((r) => udp.send(Buffer.from(c), srv.syslogUdpPort as number, '127.0.0.1', () => r()));
        const sock = connect(srv.syslogTcpPort as number, '127.0.0.1');
        sock.on('error', () => {});
        await new Promise((r) => sock.once('connect', r));
        for (const c of chunks) sock.write(Buffer.from(c));
        sock.end();
        await new Promise((r) => sock.once('close', r));
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
    udp.close();
  });

  test('afterwards every receiver still stores', async () => {
    const session = 'after-garbage';
    const ok = [
      await fetch(`${srv.url}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          resourceLogs: [
            { scopeLogs: [{ logRecords: [{ body: { stringValue: 'otlp' }, attributes: [{ key: 'session', value: { stringValue: session } }] }] }] },
          ],
        }),
      }),
      await fetch(`${srv.url}/loki/api/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ streams: [{ stream: { session }, values: [['1', 'loki']] }] }),
      }),
      await fetch(`${srv.url}/_bulk`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: `{"index":{"_index":"x"}}\n{"message":"es","session":"${session}"}\n`,
      }),
    ];
    assert.deepEqual(
      ok.map((r) => r.status),
      [200, 204, 200],
    );
    const udp = createSocket('udp4');
    await new Promise<void>((r) =>
      udp.send(Buffer.from(`<13>1 - h a - - [x@1 session="${session}"] syslog-udp`), srv.syslogUdpPort as number, '127.0.0.1', () => r()),
    );
    udp.close();
    const sock = connect(srv.syslogTcpPort as number, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.end(`<13>1 - h a - - [x@1 session="${session}"] syslog-tcp\n`);
    const deadline = Date.now() + 10_000;
    let values: string[] = [];
    while (Date.now() < deadline) {
      values = (await readAll(srv.url, session)).map((e) => e.value).sort();
      if (values.length >= 5) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(values, ['es', 'loki', 'otlp', 'syslog-tcp', 'syslog-udp']);
  });
});
