import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { TestServer } from './helpers.ts';
import { ndjson, post, readAll, startTestServer } from './helpers.ts';

describe('POST /v1/events', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ maxLineBytes: 4096, maxJsonBodyBytes: 64 * 1024, maxBodyBytes: 2 * 1024 * 1024 });
  });
  after(() => srv.dispose());

  test('mixed valid and invalid NDJSON lines: invalid ones reported by line number, valid ones stored in order', async () => {
    const body = [
      JSON.stringify({ session: 'mix', key: 'stdout', value: 'one' }),
      '{"session":"mix","key":"stdout","value":',
      JSON.stringify({ session: 'mix', key: 'stdout' }),
      '',
      JSON.stringify({ session: 'mix', key: 'stdout', value: 'two', extra: true }),
      JSON.stringify({ session: 'mix', key: 'stdout', value: 'three' }),
      '[1,2]',
    ].join('\n');
    const r = await post(srv.url, body);
    assert.equal(r.status, 200);
    assert.equal(r.json.accepted, 2);
    assert.deepEqual(
      r.json.rejected.map((x: any) => [x.index, x.reason]),
      [
        [1, 'invalid_json'],
        [2, 'missing_field'],
        [4, 'unknown_field'],
        [6, 'not_object'],
      ],
    );
    for (const x of r.json.rejected) assert.equal(typeof x.error, 'string');
    const stored = await readAll(srv.url, 'mix');
    assert.deepEqual(
      stored.map((e) => e.value),
      ['one', 'three'],
    );
  });

  test('a JSON array reports rejected events by array index', async () => {
    const r = await post(
      srv.url,
      JSON.stringify([
        { session: 'arr', key: 'k', value: 1 },
        { session: 'arr', key: 'k', value: null },
        { session: 'arr', key: 'k', value: { ok: true } },
      ]),
      {
        'content-type': 'application/json',
      },
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.accepted, 2);
    assert.deepEqual(r.json.rejected, [{ index: 1, reason: 'wrong_type', error: "field 'value' must be a string, number, boolean or object, got null" }]);
    assert.deepEqual(
      (await readAll(srv.url, 'arr')).map((e) => e.value),
      [1, { ok: true }],
    );
  });

  test('a single JSON object is one event', async () => {
    const r = await post(srv.url, JSON.stringify({ session: 'one', key: 'k', value: 'v', ts: '2026-01-02T03:04:05Z', level: 'warn', attrs: { a: 1 } }), {
      'content-type': 'application/json',
    });
    assert.deepEqual(r.json, { accepted: 1, rejected: [] });
    const [e] = await readAll(srv.url, 'one');
    assert.equal(e.ts, '2026-01-02T03:04:05.000Z');
    assert.equal(e.level, 'warn');
    assert.deepEqual(e.attrs, { a: 1 });
    assert.match(e.id, /^\d+-\d+$/);
    assert.ok(Date.parse(e.received) > Date.parse('2026-01-01'));
  });

  test('broken JSON body is a 400 naming the problem', async () => {
    const r = await post(srv.url, '{"session": "x", ', { 'content-type': 'application/json' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'LOGSRV_ERR_INVALID_JSON');
    assert.match(r.json.error.message, /not valid JSON/);
  });

  test('a request with nothing valid is a 400 that still lists every rejection', async () => {
    const r = await post(srv.url, 'nope\n{"key":"k"}\n');
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'LOGSRV_ERR_NO_VALID_EVENTS');
    assert.equal(r.json.accepted, 0);
    assert.equal(r.json.rejected.length, 2);
  });

  test('an empty body is a 400', async () => {
    const r = await post(srv.url, '');
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'LOGSRV_ERR_NO_VALID_EVENTS');
  });

  test('a line over --max-line-bytes is rejected and the lines around it are stored', async () => {
    const big = JSON.stringify({ session: 'long', key: 'stdout', value: 'x'.repeat(5000) });
    const body = ndjson([{ session: 'long', key: 'stdout', value: 'before' }]) + `${big}\n` + ndjson([{ session: 'long', key: 'stdout', value: 'after' }]);
    const r = await post(srv.url, body);
    assert.equal(r.status, 200);
    assert.equal(r.json.accepted, 2);
    assert.equal(r.json.rejected[0].index, 1);
    assert.equal(r.json.rejected[0].reason, 'line_too_large');
    assert.match(r.json.rejected[0].error, /limit 4 KiB \(--max-line-bytes\)/);
    assert.deepEqual(
      (await readAll(srv.url, 'long')).map((e) => e.value),
      ['before', 'after'],
    );
  });

  test('one event size limit: an event over --max-line-bytes is refused as application/json too, alone or in an array', async () => {
    const big = { session: 'one-limit', key: 'stdout', value: 'x'.repeat(5000) };
    const alone = await post(srv.url, JSON.stringify(big), { 'content-type': 'application/json' });
    assert.equal(alone.status, 400);
    assert.equal(alone.json.error.code, 'LOGSRV_ERR_NO_VALID_EVENTS');
    assert.equal(alone.json.rejected[0].reason, 'line_too_large');
    assert.match(alone.json.rejected[0].error, /event too large: .*limit 4 KiB \(--max-line-bytes\)/);
    const small = (value: string) => ({ session: 'one-limit', key: 'stdout', value });
    const arr = await post(srv.url, JSON.stringify([small('a'), big, small('b')]), { 'content-type': 'application/json' });
    assert.equal(arr.status, 200);
    assert.equal(arr.json.accepted, 2);
    assert.deepEqual(
      arr.json.rejected.map((x: any) => [x.index, x.reason]),
      [[1, 'line_too_large']],
    );
    // The same event as an NDJSON line meets the same limit.
    const line = await post(srv.url, ndjson([big]));
    assert.equal(line.json.rejected[0].reason, 'line_too_large');
    assert.deepEqual(
      (await readAll(srv.url, 'one-limit')).map((e) => e.value),
      ['a', 'b'],
    );
  });

  test('invalid UTF-8 in one NDJSON line rejects only that line', async () => {
    const body = Buffer.concat([
      Buffer.from(ndjson([{ session: 'utf', key: 'stdout', value: 'ok é' }])),
      Buffer.from('{"session":"utf","key":"stdout","value":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}\n'),
      Buffer.from(ndjson([{ session: 'utf', key: 'stdout', value: 'ok 2' }])),
    ]);
    const r = await post(srv.url, body);
    assert.equal(r.json.accepted, 2);
    assert.deepEqual(r.json.rejected, [{ index: 1, reason: 'invalid_utf8', error: 'line is not valid UTF-8' }]);
    assert.deepEqual(
      (await readAll(srv.url, 'utf')).map((e) => e.value),
      ['ok é', 'ok 2'],
    );
  });

  test('invalid UTF-8 in a JSON body is a 400', async () => {
    const r = await post(srv.url, Buffer.from([0x7b, 0xff, 0x7d]), { 'content-type': 'application/json' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'LOGSRV_ERR_INVALID_UTF8');
  });

  test('a JSON body over --max-json-body-bytes is a 413 naming the limit', async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({ session: 'big', key: 'k', value: `v${i}`.padEnd(80, '.') }));
    const r = await post(srv.url, JSON.stringify(events), { 'content-type': 'application/json' });
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'LOGSRV_ERR_BODY_TOO_LARGE');
    assert.match(r.json.error.message, /limit 64 KiB/);
    assert.deepEqual(await readAll(srv.url, 'big'), []);
  });

  test('a body over --max-body-bytes is a 413 even without Content-Length', async () => {
    const line = `${JSON.stringify({ session: 'huge', key: 'k', value: 'y'.repeat(900) })}\n`;
    const chunks = Array.from({ length: 3000 }, () => line);
    const stream = new ReadableStream({
      pull(c) {
        const next = chunks.pop();
        if (next) c.enqueue(new TextEncoder().encode(next));
        else c.close();
      },
    });
    const res = await fetch(`${srv.url}/v1/events`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'content-type': 'application/x-ndjson' },
    } as RequestInit);
    assert.equal(res.status, 413);
    const json = (await res.json()) as any;
    assert.equal(json.error.code, 'LOGSRV_ERR_BODY_TOO_LARGE');
    // What was committed before the limit was reached is reported, and stored.
    assert.equal(typeof json.accepted, 'number');
    assert.equal((await readAll(srv.url, 'huge')).length, json.accepted);
  });

  test('gzip bodies are decompressed; a broken gzip body is a 400', async () => {
    const body = gzipSync(ndjson(Array.from({ length: 50 }, (_, i) => ({ session: 'gz', key: 'stdout', value: `line ${i}` }))));
    const r = await post(srv.url, body, { 'content-encoding': 'gzip' });
    assert.deepEqual(r.json, { accepted: 50, rejected: [] });
    assert.equal((await readAll(srv.url, 'gz')).length, 50);
    const bad = await post(srv.url, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'LOGSRV_ERR_BAD_ENCODING');
    const br = await post(srv.url, 'x', { 'content-encoding': 'br' });
    assert.equal(br.status, 415);
    assert.equal(br.json.error.code, 'LOGSRV_ERR_UNSUPPORTED_ENCODING');
  });

  test('many concurrent small requests share transactions (group commit) and all are stored', async () => {
    const before = await batchCount(srv.url);
    const n = 200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => post(srv.url, ndjson([{ session: 'group', key: 'stdout', value: `req ${i}` }]))));
    for (const r of results) assert.equal(r.json.accepted, 1);
    const batches = (await batchCount(srv.url)) - before;
    assert.ok(batches < n, `expected fewer transactions than requests, got ${batches} for ${n}`);
    const stored = await readAll(srv.url, 'group');
    assert.equal(stored.length, n);
    assert.equal(new Set(stored.map((e) => e.value)).size, n);
  });
});

async function batchCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^logsrv_writer_batch_events_count (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}

describe('queue bound', () => {
  test('when the queue is full ingest answers 503 with Retry-After, and every 200 is stored', async () => {
    const srv = await startTestServer({ maxQueueEvents: 50 });
    try {
      const line = (i: number, j: number) => ({ session: 'full', key: 'stdout', value: `${i}-${j}` });
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) => post(srv.url, ndjson(Array.from({ length: 40 }, (_, j) => line(i, j))))));
      const ok = results.filter((r) => r.status === 200);
      const full = results.filter((r) => r.status === 503);
      assert.equal(ok.length + full.length, results.length);
      assert.ok(full.length > 0, 'some requests should have found the queue full');
      for (const r of full) {
        assert.equal(r.headers.get('retry-after'), '1');
        assert.equal(r.json.error.code, 'LOGSRV_ERR_QUEUE_FULL');
        assert.match(r.json.error.message, /--max-queue-events/);
      }
      const stored = await readAll(srv.url, 'full');
      assert.equal(stored.length, ok.length * 40);
    } finally {
      await srv.dispose();
    }
  });
});
