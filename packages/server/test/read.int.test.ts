import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { compareIds, parseId } from '@logsrv/protocol';
import { ndjson, post, readAll, startTestServer } from './helpers.ts';

describe('day partitions', () => {
  test('events on both sides of midnight land in two day files and page exactly across them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-day-'));
    const midnight = Date.UTC(2026, 10, 23);
    let now = midnight - 2000;
    const srv = await startTestServer({}, { dataDir, clock: () => now });
    try {
      const sent: string[] = [];
      for (let i = 0; i < 30; i++) {
        if (i === 10) now = midnight - 1;
        if (i === 20) now = midnight + 1000;
        const v = `line ${i}`;
        sent.push(v);
        assert.equal((await post(srv.url, ndjson([{ session: 'night', key: 'stdout', value: v }]))).json.accepted, 1);
      }
      assert.deepEqual(
        readdirSync(dataDir)
          .filter((f) => f.endsWith('.db'))
          .sort(),
        // Each day with its full-text index file (store/sqlite/index-file.ts) and its session chunk
        // file (store/sqlite/session-chunks.ts).
        ['events-20261122.db', 'events-20261122.fts.db', 'events-20261122.sess.db', 'events-20261123.db', 'events-20261123.fts.db', 'events-20261123.sess.db'],
      );
      for (const limit of ['1', '3', '7', '10', '11', '1000']) {
        const got = await readAll(srv.url, 'night', { limit });
        assert.deepEqual(
          got.map((e) => e.value),
          sent,
          `limit ${limit}`,
        );
      }
      const all = await readAll(srv.url, 'night');
      assert.equal(all[19].received, new Date(midnight - 1).toISOString());
      assert.equal(all[20].received, new Date(midnight + 1000).toISOString());
      // Resuming from the last event of the first day gives exactly the second day.
      const rest = await readAll(srv.url, 'night', { after: all[19].id });
      assert.deepEqual(
        rest.map((e) => e.value),
        sent.slice(20),
      );
      // The last page says there is nothing next.
      const last = await (await fetch(`${srv.url}/v1/sessions/night/events?after=${all[28].id}`)).json();
      assert.equal(last.events.length, 1);
      assert.equal(last.next, null);

      // Backwards with before=: pages from the end, exact across the day boundary, at every size.
      const page = async (qs: string) => (await fetch(`${srv.url}/v1/sessions/night/events?${qs}`)).json();
      for (const limit of [1, 3, 7, 10, 11, 1000]) {
        const got: string[] = [];
        let before = `${Date.UTC(2027, 0, 1)}-0`;
        for (;;) {
          const p = await page(`before=${before}&limit=${limit}`);
          assert.ok(p.events.length <= limit);
          got.unshift(...p.events.map((e: any) => e.value));
          if (p.events.length > 0) assert.equal(p.next, p.events.at(-1).id, 'next continues forwards from the page');
          if (p.prev === null) break;
          assert.equal(p.prev, p.events[0].id);
          before = p.prev;
        }
        assert.deepEqual(got, sent, `backwards, limit ${limit}`);
      }
      const justBefore = await page(`before=${all[20].id}&limit=2`);
      assert.deepEqual(
        justBefore.events.map((e: any) => e.value),
        ['line 18', 'line 19'],
      );
      assert.deepEqual(await page(`before=${all[0].id}`), { events: [], next: null, prev: null });
      for (const [qs, code] of [
        [`before=${all[5].id}&after=${all[1].id}`, 'LOGSRV_ERR_BAD_PARAM'],
        [`before=${all[5].id}&q=line`, 'LOGSRV_ERR_BAD_PARAM'],
        ['before=yesterday', 'LOGSRV_ERR_BAD_CURSOR'],
      ]) {
        const r = await fetch(`${srv.url}/v1/sessions/night/events?${qs}`);
        assert.equal(r.status, 400, qs);
        assert.equal(((await r.json()) as any).error.code, code, qs);
      }
    } finally {
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('ids keep increasing across a restart even when the clock went back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-clock-'));
    try {
      const t = Date.UTC(2026, 10, 22, 12);
      let srv = await startTestServer({}, { dataDir, clock: () => t });
      await post(
        srv.url,
        ndjson([
          { session: 'c', key: 'k', value: 1 },
          { session: 'c', key: 'k', value: 2 },
        ]),
      );
      await srv.close();
      srv = await startTestServer({}, { dataDir, clock: () => t - 60_000 });
      await post(srv.url, ndjson([{ session: 'c', key: 'k', value: 3 }]));
      const ids = (await readAll(srv.url, 'c')).map((e) => parseId(e.id)!);
      await srv.close();
      assert.equal(ids.length, 3);
      for (let i = 1; i < ids.length; i++) assert.ok(compareIds(ids[i - 1]!, ids[i]!) < 0, JSON.stringify(ids));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('GET /v1/sessions/:session/events', () => {
  test('filters, formats and parameter errors', async () => {
    const srv = await startTestServer();
    try {
      await post(
        srv.url,
        ndjson([
          { session: 'fmt', key: 'step.start', value: { name: 'build' }, step: 'build' },
          { session: 'fmt', key: 'stdout', value: 'compiling <b>', step: 'build' },
          { session: 'fmt', key: 'stderr', value: '\u001b[31mwarning\u001b[0m <script>alert(1)</script>', step: 'build' },
          { session: 'fmt', key: 'stdout', value: 'test ok', step: 'test' },
        ]),
      );
      const get = (qs: string) => fetch(`${srv.url}/v1/sessions/fmt/events?${qs}`);
      assert.deepEqual(
        (await readAll(srv.url, 'fmt', { key: 'stdout' })).map((e) => e.value),
        ['compiling <b>', 'test ok'],
      );
      assert.deepEqual(
        (await readAll(srv.url, 'fmt', { step: 'test' })).map((e) => e.value),
        ['test ok'],
      );
      const text = await get('format=text');
      assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
      // The output only (issue 15): a named step's start is a separator, not its JSON.
      assert.equal(await text.text(), '── step build ──\ncompiling <b>\n\u001b[31mwarning\u001b[0m <script>alert(1)</script>\ntest ok\n');
      const nd = (await (await get('format=ndjson')).text()).trim().split('\n');
      assert.equal(nd.length, 4);
      assert.equal(JSON.parse(nd[3] as string).value, 'test ok');
      const html = await (await get('format=html')).text();
      assert.ok(!html.includes('<script>alert'), 'script must be escaped');
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
      assert.ok(!html.includes('\u001b'), 'escape sequences are removed from html');
      const paged = await get('limit=2');
      assert.equal(paged.headers.get('logsrv-next'), ((await paged.json()) as any).next);
      for (const [qs, code] of [
        ['after=abc', 'LOGSRV_ERR_BAD_CURSOR'],
        ['limit=0', 'LOGSRV_ERR_BAD_PARAM'],
        ['limit=100001', 'LOGSRV_ERR_BAD_PARAM'],
        ['format=xml', 'LOGSRV_ERR_BAD_PARAM'],
        ['key=a&key=b', 'LOGSRV_ERR_BAD_PARAM'],
      ] as const) {
        const r = await get(qs);
        assert.equal(r.status, 400, qs);
        assert.equal(((await r.json()) as any).error.code, code, qs);
      }
      const none = (await (await fetch(`${srv.url}/v1/sessions/nobody/events`)).json()) as any;
      assert.deepEqual(none, { events: [], next: null });
      const health = (await (await fetch(`${srv.url}/healthz`)).json()) as any;
      assert.equal(health.status, 'ok');
      const nf = await fetch(`${srv.url}/v2/nothing`);
      assert.equal(nf.status, 404);
      assert.equal(((await nf.json()) as any).error.code, 'LOGSRV_ERR_NOT_FOUND');
      assert.ok(existsSync(srv.dataDir));
    } finally {
      await srv.dispose();
    }
  });
});
