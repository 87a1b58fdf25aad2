/**
 * SPEC §1: a retried `(producer, seq)` is stored once. Real server, real SQLite files; the rule
 * (per-producer mark = highest seq committed) is documented in store/sqlite/writer-worker.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { TestServer } from './helpers.ts';
import { ndjson, post, readAll, startTestServer } from './helpers.ts';

function batch(session: string, producer: string, from: number, to: number) {
  const out = [];
  for (let seq = from; seq <= to; seq++) out.push({ session, key: 'stdout', value: `line ${seq}`, producer, seq });
  return out;
}

function lines(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);
}

describe('idempotent ingest by (producer, seq)', { timeout: 60_000 }, () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.dispose();
  });
  let shared: TestServer | undefined;
  /** One server for the tests that use their own sessions and producers; a fresh one when a data dir is given. */
  async function server(opts: { dataDir?: string } = {}): Promise<TestServer> {
    if (!opts.dataDir && shared) return shared;
    const s = await startTestServer({}, opts);
    servers.push(s);
    if (!opts.dataDir) shared = s;
    return s;
  }

  test('a batch sent twice is stored once; the second answer counts it as accepted duplicates', async () => {
    const srv = await server();
    const body = ndjson(batch('twice', 'p1', 0, 9));
    const first = await post(srv.url, body);
    assert.deepEqual(first.json, { accepted: 10, rejected: [] });
    const second = await post(srv.url, body);
    assert.equal(second.status, 200);
    assert.deepEqual(second.json, { accepted: 10, rejected: [], duplicates: 10 });
    const stored = await readAll(srv.url, 'twice');
    assert.deepEqual(
      stored.map((e) => e.value),
      lines(0, 9),
    );
    // This test runs first on the shared server: the counters hold only its requests.
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /logsrv_duplicates_total\{transport="http"\} 10\n/);
    assert.match(metrics, /logsrv_accepted_total\{transport="http"\} 10\n/);
  });

  test('a retry overlapping what was committed stores only the new part, in order, with increasing ids', async () => {
    const srv = await server();
    await post(srv.url, ndjson(batch('overlap', 'p-overlap', 0, 9)));
    const r = await post(srv.url, ndjson(batch('overlap', 'p-overlap', 5, 14)));
    assert.deepEqual(r.json, { accepted: 10, rejected: [], duplicates: 5 });
    const stored = await readAll(srv.url, 'overlap');
    assert.deepEqual(
      stored.map((e) => e.value),
      lines(0, 14),
    );
    assert.deepEqual(
      stored.map((e) => e.seq),
      Array.from({ length: 15 }, (_, i) => i),
    );
    for (let i = 1; i < stored.length; i++) {
      const [ams, aseq] = stored[i - 1].id.split('-').map(Number);
      const [bms, bseq] = stored[i].id.split('-').map(Number);
      assert.ok(bms > ams || (bms === ams && bseq > aseq), `ids increase: ${stored[i - 1].id} < ${stored[i].id}`);
    }
  });

  test('copies of a batch in flight at the same time (a client that gave up waiting) are stored once', async () => {
    const srv = await server();
    const body = ndjson(batch('concurrent', 'p-concurrent', 0, 499));
    const answers = await Promise.all([post(srv.url, body), post(srv.url, body), post(srv.url, body)]);
    for (const a of answers) assert.equal(a.json.accepted, 500);
    assert.equal(
      answers.reduce((n, a) => n + (a.json.duplicates ?? 0), 0),
      1000,
    );
    const stored = await readAll(srv.url, 'concurrent');
    assert.deepEqual(
      stored.map((e) => e.value),
      lines(0, 499),
    );
  });

  test('producers are independent; events without producer or seq are never deduplicated', async () => {
    const srv = await server();
    const plain = ndjson([
      { session: 'mixed', key: 'k', value: 'plain' },
      { session: 'mixed', key: 'k', value: 'only-seq', seq: 1 },
      { session: 'mixed', key: 'k', value: 'only-producer', producer: 'a' },
    ]);
    await post(srv.url, plain);
    await post(srv.url, plain);
    await post(srv.url, ndjson([{ session: 'mixed', key: 'k', value: 'a0', producer: 'a', seq: 0 }]));
    const r = await post(
      srv.url,
      ndjson([
        { session: 'mixed', key: 'k', value: 'b0', producer: 'b', seq: 0 },
        { session: 'mixed', key: 'k', value: 'a0-again', producer: 'a', seq: 0 },
        { session: 'mixed', key: 'k', value: 'b0-again', producer: 'b', seq: 0 },
      ]),
    );
    assert.equal(r.json.duplicates, 2);
    const stored = await readAll(srv.url, 'mixed');
    assert.deepEqual(
      stored.map((e) => e.value),
      ['plain', 'only-seq', 'only-producer', 'plain', 'only-seq', 'only-producer', 'a0', 'b0'],
    );
  });

  test('marks survive a restart: a batch resent to the restarted server is not stored again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-idem-'));
    after(() => rmSync(dataDir, { recursive: true, force: true }));
    const first = await startTestServer({}, { dataDir });
    await post(first.url, ndjson(batch('restart', 'p', 0, 99)));
    await first.dispose();
    const second = await server({ dataDir });
    const r = await post(second.url, ndjson(batch('restart', 'p', 50, 149)));
    assert.deepEqual(r.json, { accepted: 100, rejected: [], duplicates: 50 });
    const stored = await readAll(second.url, 'restart');
    assert.deepEqual(
      stored.map((e) => e.value),
      lines(0, 149),
    );
  });

  test('the live tail sees each stored event once, with the id it is stored under', async () => {
    const srv = await server();
    await post(srv.url, ndjson(batch('live', 'p-live', 0, 4)));
    // A connection of its own (node:http, no agent), destroyed at the end.
    const seen: { id: string; value: string }[] = [];
    let req: http.ClientRequest | undefined;
    const reading = new Promise<void>((resolve, reject) => {
      req = http.get(`${srv.url}/v1/sessions/live/tail`, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let at = buf.indexOf('\n\n');
          while (at !== -1) {
            const frame = buf.slice(0, at);
            buf = buf.slice(at + 2);
            const id = /^id: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (id && data) seen.push({ id, value: JSON.parse(data).value });
            if (seen.length === 10) resolve();
            at = buf.indexOf('\n\n');
          }
        });
      });
      req.on('error', reject);
    });
    // Overlapping retries, several in one request and across requests.
    await post(srv.url, ndjson([...batch('live', 'p-live', 3, 7), ...batch('live', 'p-live', 6, 9)]));
    await post(srv.url, ndjson(batch('live', 'p-live', 0, 9)));
    await Promise.race([reading, new Promise((r) => setTimeout(r, 5000))]);
    req?.destroy();
    const stored = await readAll(srv.url, 'live');
    assert.deepEqual(
      stored.map((e) => e.value),
      lines(0, 9),
    );
    assert.deepEqual(
      seen,
      stored.map((e) => ({ id: e.id, value: e.value })),
    );
  });
});
