/**
 * `POST /loki/api/v1/push`: the JSON example of Loki's API docs, and snappy-compressed protobuf
 * pushes built with Loki's push.proto messages exactly as Promtail/Alloy send them (labels as
 * `labels.String()` text, structured metadata, Timestamp seconds + nanos). Stored events are
 * checked field by field; garbage gets Loki's 400 and is counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import snappy from 'snappyjs';
import { PushRequest } from '../src/ingest/loki/loki-schema.ts';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';

async function rejected(srv: TestServer, reason: string): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = new RegExp(`^logsrv_rejected_total\\{transport="loki",reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

function protoPush(streams: unknown[]): Buffer {
  return Buffer.from(snappy.compress(PushRequest.encode(PushRequest.fromObject({ streams })).finish()));
}

async function push(srv: TestServer, body: Buffer | string, type: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${srv.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, text: await res.text() };
}

describe('Loki push API', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(() => srv.dispose());

  test('JSON (the API docs example shape): 204; session from the canonical label set; labels and metadata in attrs', async () => {
    const r = await push(
      srv,
      JSON.stringify({
        streams: [
          {
            stream: { job: 'varlogs', env: 'prod' },
            values: [
              ['1733393000123456789', 'fizzbuzz'],
              ['1733393000223456789', 'level=warn msg="disk low"', { trace_id: '0242ac120002', level: 'warning' }],
            ],
          },
        ],
      }),
      'application/json',
    );
    assert.equal(r.status, 204);
    const events = await readAll(srv.url, '{env="prod", job="varlogs"}');
    assert.equal(events.length, 2);
    assert.deepEqual(
      events.map((e) => [e.key, e.value, e.ts, e.component, e.level ?? null, e.attrs]),
      [
        ['log', 'fizzbuzz', '2024-12-05T10:03:20.123Z', 'varlogs', null, { job: 'varlogs', env: 'prod' }],
        [
          'log',
          'level=warn msg="disk low"',
          '2024-12-05T10:03:20.223Z',
          'varlogs',
          'warn',
          { job: 'varlogs', env: 'prod', trace_id: '0242ac120002', level: 'warning' },
        ],
      ],
    );
  });

  test('snappy protobuf as Promtail sends it: escaped label values, session label, structured metadata', async () => {
    const body = protoPush([
      {
        labels: '{app="api", filename="/var/log/a \\"b\\".log", session="loki-s1", service_name="payments"}',
        entries: [
          { timestamp: { seconds: 1733393000, nanos: 5_000_000 }, line: 'GET /health 200', structuredMetadata: [{ name: 'detected_level', value: 'INFO' }] },
          {
            timestamp: { seconds: 1733393001, nanos: 0 },
            line: 'POST /pay 500',
            structuredMetadata: [
              { name: 'level', value: 'error' },
              { name: 'user', value: 'bob' },
            ],
          },
        ],
      },
    ]);
    const r = await push(srv, body, 'application/x-protobuf');
    assert.equal(r.status, 204, r.text);
    const events = await readAll(srv.url, 'loki-s1');
    assert.deepEqual(
      events.map((e) => [e.value, e.ts, e.component, e.level, e.user ?? null, e.attrs.filename, e.attrs.session]),
      [
        ['GET /health 200', '2024-12-05T10:03:20.005Z', 'payments', 'info', null, '/var/log/a "b".log', undefined],
        ['POST /pay 500', '2024-12-05T10:03:21.000Z', 'payments', 'error', 'bob', '/var/log/a "b".log', undefined],
      ],
    );
  });

  test('Content-Encoding: snappy on JSON and protobuf; GET /ready for readiness probes', async () => {
    const json = Buffer.from(
      snappy.compress(Buffer.from(JSON.stringify({ streams: [{ stream: { session: 'loki-snappy' }, values: [['1733393000000000000', 'json+snappy']] }] }))),
    );
    let res = await fetch(`${srv.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'snappy' },
      body: json,
    });
    assert.equal(res.status, 204);
    res = await fetch(`${srv.url}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      body: protoPush([{ labels: '{session="loki-snappy"}', entries: [{ timestamp: { seconds: 1733393001 }, line: 'proto+snappy' }] }]),
    });
    assert.equal(res.status, 204);
    assert.deepEqual(
      (await readAll(srv.url, 'loki-snappy')).map((e) => e.value),
      ['json+snappy', 'proto+snappy'],
    );
    const ready = await fetch(`${srv.url}/ready`);
    assert.deepEqual([ready.status, await ready.text()], [200, 'ready\n']);
  });

  test('bad entries are left out, the rest stored, and the answer is a 400 naming them (as Loki does)', async () => {
    const r = await push(
      srv,
      JSON.stringify({
        streams: [
          {
            stream: { session: 'loki-partial' },
            values: [
              ['1733393000000000000', 'ok'],
              ['yesterday', 'bad time'],
              ['1733393000000000001', 7],
            ],
          },
        ],
      }),
      'application/json',
    );
    assert.equal(r.status, 400);
    assert.match(r.text, /^2 of 3 entries rejected \(the other 1 were stored\)/);
    assert.deepEqual(
      (await readAll(srv.url, 'loki-partial')).map((e) => e.value),
      ['ok'],
    );
  });

  test('garbage: bad snappy, bad protobuf, bad JSON, bad labels — 400, counted; the receiver keeps working', async () => {
    assert.equal((await push(srv, Buffer.from('not snappy at all'), 'application/x-protobuf')).status, 400);
    assert.equal((await push(srv, Buffer.from(snappy.compress(Buffer.from([0x0a, 0xff, 0xff]))), 'application/x-protobuf')).status, 400);
    assert.equal(await rejected(srv, 'invalid_protobuf'), 2);
    assert.equal((await push(srv, '{"streams": [', 'application/json')).status, 400);
    assert.equal(await rejected(srv, 'invalid_json'), 1);
    assert.equal((await push(srv, '{"streams": 1}', 'application/json')).status, 400);
    assert.equal(await rejected(srv, 'invalid_loki'), 1);
    const badLabels = await push(srv, protoPush([{ labels: '{app=api}', entries: [{ line: 'x' }] }]), 'application/x-protobuf');
    assert.equal(badLabels.status, 400);
    assert.match(badLabels.text, /quoted label value expected/);
    const ok = await push(
      srv,
      protoPush([{ labels: '{session="loki-after"}', entries: [{ timestamp: { seconds: 1 }, line: 'after' }] }]),
      'application/x-protobuf',
    );
    assert.equal(ok.status, 204);
    assert.equal((await readAll(srv.url, 'loki-after'))[0]?.value, 'after');
  });
});
