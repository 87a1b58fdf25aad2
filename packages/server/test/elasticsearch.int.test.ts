/**
 * `_bulk` with the official Elasticsearch JS client (9.3, the last for Node 20): its bulk helper
 * (which sends `application/vnd.elasticsearch+x-ndjson; compatible-with=9`), a raw `client.bulk`
 * call with the per-item answer checked against Elasticsearch's shape, and the documents Filebeat
 * sends (ECS fields). Stored events are checked field by field; garbage gets Elasticsearch's 400.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@elastic/elasticsearch';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';

describe('Elasticsearch bulk', () => {
  let srv: TestServer;
  let client: Client;
  before(async () => {
    srv = await startTestServer();
    client = new Client({ node: srv.url });
  });
  after(async () => {
    await client.close();
    await srv.dispose();
  });

  test('the client bulk helper: every document stored, session from the index by default', async () => {
    const docs = Array.from({ length: 250 }, (_, i) => ({
      '@timestamp': new Date(Date.UTC(2026, 11, 5, 9, 0, 0, i)).toISOString(),
      message: `line ${i}`,
      log: { level: i % 2 ? 'ERROR' : 'info' },
      service: { name: 'shop' },
      host: { name: 'web-1' },
    }));
    const dropped: unknown[] = [];
    const stats = await client.helpers.bulk({
      datasource: docs,
      onDocument: () => ({ create: { _index: 'logs-shop' } }),
      onDrop: (d) => dropped.push(d),
      flushBytes: 8000,
    });
    assert.equal(stats.successful, 250);
    assert.equal(stats.failed, 0);
    assert.deepEqual(dropped, []);
    const events = await readAll(srv.url, 'logs-shop');
    assert.equal(events.length, 250);
    const e = events[7];
    assert.deepEqual(
      [e.key, e.value, e.ts, e.component, e.level, e.attrs.host, e.attrs.log, e.attrs._index],
      ['log', 'line 7', '2026-12-05T09:00:00.007Z', 'shop', 'error', { name: 'web-1' }, { level: 'ERROR' }, 'logs-shop'],
    );
    assert.equal(events[8].level, 'info');
  });

  test('client.bulk: the per-item answer has the shape of Elasticsearch, errors per item, and the product header', async () => {
    const res = await client.bulk(
      {
        index: 'fallback-index',
        operations: [
          { index: { _index: 'es-items', _id: 'doc-1' } },
          { message: 'first', session: 'es-explicit', user: 'ann' },
          { create: {} },
          { message: 'goes to the path index' },
          { index: {} },
          { message: 'bad time', '@timestamp': 'not a date' },
          { delete: { _id: 'x' } },
          { update: { _id: 'y' } },
          { doc: { a: 1 } },
        ],
      },
      { meta: true },
    );
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-elastic-product'], 'Elasticsearch');
    const body = res.body;
    assert.equal(body.errors, true);
    assert.equal(typeof body.took, 'number');
    assert.deepEqual(body.items[0], {
      index: {
        _index: 'es-items',
        _id: 'doc-1',
        _version: 1,
        result: 'created',
        _shards: { total: 1, successful: 1, failed: 0 },
        _seq_no: 0,
        _primary_term: 1,
        status: 201,
      },
    });
    assert.equal(body.items[1]?.create?.status, 201);
    assert.equal(body.items[1]?.create?._index, 'fallback-index');
    assert.match(String(body.items[1]?.create?._id), /^[A-Za-z0-9_-]{20}$/);
    assert.equal(body.items[2]?.index?.status, 400);
    assert.equal(body.items[2]?.index?.error?.type, 'document_parsing_exception');
    assert.match(String(body.items[2]?.index?.error?.reason), /@timestamp/);
    assert.equal(body.items[3]?.delete?.error?.type, 'action_request_validation_exception');
    assert.equal(body.items[4]?.update?.status, 400);

    const [e] = await readAll(srv.url, 'es-explicit');
    assert.deepEqual([e.value, e.user, e.attrs._index, e.attrs.session], ['first', 'ann', 'es-items', undefined]);
    assert.deepEqual(
      (await readAll(srv.url, 'fallback-index')).map((x) => x.value),
      ['goes to the path index'],
    );
  });

  test('a Filebeat document (ECS) over plain application/x-ndjson at /<index>/_bulk', async () => {
    const filebeat = {
      '@timestamp': '2026-12-05T08:00:00.000Z',
      '@metadata': { beat: 'filebeat', type: '_doc', version: '8.17.0' },
      message: '127.0.0.1 - - "GET / HTTP/1.1" 200',
      log: { file: { path: '/var/log/nginx/access.log' }, offset: 0 },
      input: { type: 'filestream' },
      host: { name: 'web-2' },
      agent: { type: 'filebeat', version: '8.17.0' },
      ecs: { version: '8.0.0' },
    };
    const res = await fetch(`${srv.url}/filebeat-8.17.0/_bulk`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({ create: {} })}\n${JSON.stringify(filebeat)}\n`,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-elastic-product'), 'Elasticsearch');
    const [e] = await readAll(srv.url, 'filebeat-8.17.0');
    assert.deepEqual(
      [e.value, e.ts, e.attrs.host.name, e.attrs.log.file.path, e.component ?? null],
      [filebeat.message, filebeat['@timestamp'], 'web-2', '/var/log/nginx/access.log', null],
    );
  });

  test('GET / answers cluster info to Elastic clients and the web UI to browsers', async () => {
    const info = await client.info();
    assert.equal(info.version.number.split('.')[0], '8');
    assert.equal(info.tagline, 'You Know, for Search');
    const browser = await fetch(`${srv.url}/`, { headers: { accept: 'text/html' } });
    assert.equal(browser.headers.get('x-elastic-product'), null);
    assert.match(browser.headers.get('content-type') ?? '', /text\/html/);
  });

  test('a document larger than --max-line-bytes as an event fails its item only', async () => {
    const small = await startTestServer({ maxLineBytes: 1024 });
    try {
      const c = new Client({ node: small.url });
      const res = await c.bulk({
        operations: [{ index: { _index: 'big' } }, { message: 'x'.repeat(2000) }, { index: { _index: 'big' } }, { message: 'fits' }],
      });
      assert.equal(res.errors, true);
      assert.equal(res.items[0]?.index?.status, 400);
      assert.match(String(res.items[0]?.index?.error?.reason), /over 1 KiB as an event \(--max-line-bytes\) \(line_too_large\)/);
      assert.equal(res.items[1]?.index?.status, 201);
      await c.close();
    } finally {
      await small.dispose();
    }
  });

  test('garbage: a malformed action line is one 400 in Elasticsearch shape, counted; the receiver keeps working', async () => {
    const res = await fetch(`${srv.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: 'this is not json\n{"a":1}\n' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { type: string; reason: string; root_cause: unknown[] }; status: number };
    assert.equal(body.status, 400);
    assert.equal(body.error.type, 'illegal_argument_exception');
    assert.match(body.error.reason, /line 1: malformed action\/metadata line/);
    const bad2 = await fetch(`${srv.url}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"index":{"_index":"x"}}\n' });
    assert.equal(bad2.status, 400);
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /^logsrv_rejected_total\{transport="elasticsearch",reason="invalid_bulk"\} 2$/m);
    const ok = await client.bulk({ operations: [{ index: { _index: 'es-after' } }, { message: 'after' }] });
    assert.equal(ok.errors, false);
    assert.equal((await readAll(srv.url, 'es-after'))[0]?.value, 'after');
  });
});
