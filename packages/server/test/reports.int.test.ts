/**
 * Health reports over HTTP against a real server and its SQLite day files: every figure is checked
 * against a brute-force computation over the same raw events (read back through GET /v1/events),
 * across midnight, after a restart, after rollups are dropped from the day files (rebuilt at
 * open), after archive + restore, with bad parameters, and with each kind of token.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createToken } from '@logsrv/server';
import { archiveDays, restoreArchive } from '@logsrv/server/archive';
import Database from 'better-sqlite3';
import type { RawEvent, Win } from './contract/report-brute.ts';
import { ALPHA, assertMean, assertQuantile, bruteComponents, bruteKeys, bruteStats, inWindow, unit } from './contract/report-brute.ts';
import { ndjson, post, rng, startTestServer } from './helpers.ts';

const MIDNIGHT = Date.UTC(2026, 11, 2);

async function getJson(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, { headers });
  return { status: res.status, body: await res.json() };
}

/** Every stored event, through the query API, as the brute force sees it. */
async function rawEvents(url: string): Promise<RawEvent[]> {
  const out: RawEvent[] = [];
  let after = '';
  for (;;) {
    const { status, body } = await getJson(url, `/v1/events?limit=1000&after=${after}`);
    assert.equal(status, 200);
    for (const e of body.events) {
      out.push({ ms: Number(e.id.split('-')[0]), component: e.component ?? null, level: e.level ?? null, key: e.key, value: e.value });
    }
    if (!body.next) return out;
    after = body.next;
  }
}

function qs(w: Win, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams({ from: new Date(w.fromMs).toISOString(), to: String(w.toMs), ...extra });
  if (w.component !== undefined) p.set('component', w.component);
  return p.toString();
}

const WINDOWS: Win[] = [
  { fromMs: MIDNIGHT - 3_600_000, toMs: MIDNIGHT + 3_600_000 },
  { fromMs: MIDNIGHT - 90_000, toMs: MIDNIGHT + 100_000 },
  { fromMs: MIDNIGHT - 3_600_000, toMs: MIDNIGHT + 3_600_000, component: 'api' },
  { fromMs: MIDNIGHT + 30_000, toMs: MIDNIGHT + 200_000, component: 'db' },
  // Longer than 6 hours: the hourly rollups, whole hours.
  { fromMs: MIDNIGHT - 7 * 3_600_000 + 5, toMs: MIDNIGHT + 1000, hourly: true },
  { fromMs: MIDNIGHT - 3_600_000, toMs: MIDNIGHT + 6 * 3_600_000, component: 'web', hourly: true },
];

/** Compares the three reports over each window with the brute force over `raw`. */
async function checkReports(url: string, raw: RawEvent[], label: string): Promise<void> {
  for (const w of WINDOWS) {
    const what = `${label} ${JSON.stringify(w)}`;
    const sub = inWindow(raw, w);
    const comps = await getJson(url, `/v1/reports/components?${qs(w)}`);
    assert.equal(comps.status, 200, what);
    assert.equal(comps.body.step, w.hourly ? '1h' : '1m', what);
    const want = bruteComponents(sub);
    assert.equal(comps.body.components.length, want.size, `components ${what}`);
    for (const c of comps.body.components) {
      const b = want.get(c.component);
      assert.ok(b, `component ${c.component} ${what}`);
      assert.equal(c.events, b.events, `events of ${c.component} ${what}`);
      assert.deepEqual(c.levels, b.levels, `levels of ${c.component} ${what}`);
      assert.equal(c.errorRate, (b.levels.error ?? 0) / b.events);
      assert.equal(
        c.buckets.reduce((n: number, x: { events: number }) => n + x.events, 0),
        b.events,
      );
    }
    const events = comps.body.components.map((c: { events: number }) => c.events);
    assert.deepEqual(
      events,
      [...events].sort((a, b) => b - a),
      'most events first',
    );

    const keys = await getJson(url, `/v1/reports/keys?${qs(w, { limit: '2' })}`);
    assert.equal(keys.status, 200);
    assert.deepEqual(keys.body.keys, bruteKeys(sub).slice(0, 2), `keys ${what}`);

    for (const key of ['api.latency', 'db.rows', 'stdout']) {
      const st = await getJson(url, `/v1/reports/stats?${qs(w, { key })}`);
      assert.equal(st.status, 200);
      const b = bruteStats(sub, key);
      assert.equal(st.body.key, key);
      assert.equal(st.body.count, b.count, `count of ${key} ${what}`);
      assert.equal(st.body.min, b.min, `min of ${key} ${what}`);
      assert.equal(st.body.max, b.max, `max of ${key} ${what}`);
      assertMean(st.body.mean, b.mean, `${key} ${what}`);
      assert.equal(st.body.relativeError, ALPHA);
      if (b.count === 0) {
        assert.equal(st.body.p95, null);
        assert.deepEqual(st.body.buckets, []);
        continue;
      }
      for (const q of [0.5, 0.95, 0.99]) assertQuantile(st.body[`p${q * 100}`], b.sorted, q, `${key} ${what}`);
      // Per minute: count, mean, p95.
      let total = 0;
      for (const bk of st.body.buckets) {
        const start = Date.parse(bk.start);
        const m = bruteStats(
          sub.filter((e) => e.ms >= start && e.ms < start + unit(w) * 60_000),
          key,
        );
        assert.equal(bk.count, m.count, `count of ${key} in ${bk.start}`);
        assertMean(bk.mean, m.mean, `${key} in ${bk.start}`);
        assertQuantile(bk.p95, m.sorted, 0.95, `${key} in ${bk.start}`);
        total += bk.count;
      }
      assert.equal(total, b.count, 'the buckets hold every value');
    }
  }
}

function makeEvents(seed: number, n: number): unknown[] {
  const r = rng(seed);
  const comps = ['api', 'db', 'web', undefined];
  const levels = ['info', 'warn', 'error', undefined];
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const e: Record<string, unknown> = { session: `s${Math.floor(r() * 3)}` };
    const c = comps[Math.floor(r() * comps.length)];
    const l = levels[Math.floor(r() * levels.length)];
    if (c) e.component = c;
    if (l) e.level = l;
    const k = r();
    if (k < 0.4) {
      e.key = 'api.latency';
      const x = Math.round(Math.exp(r() * 8) * 100) / 100;
      e.value = r() < 0.5 ? x : { value: x, route: '/v1/x' };
    } else if (k < 0.55) {
      e.key = 'db.rows';
      e.value = Math.floor(r() * 300) - 50;
    } else if (k < 0.62) {
      e.key = 'api.latency';
      e.value = r() < 0.5 ? '250' : { route: '/none' };
    } else {
      e.key = 'stdout';
      e.value = `line ${i}`;
    }
    out.push(e);
  }
  return out;
}

test('reports equal a brute-force computation across midnight, after a restart, a rebuild, and archive + restore', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-reports-'));
  let now = MIDNIGHT - 200_000;
  let srv = await startTestServer({}, { dataDir, clock: () => now });
  try {
    for (let b = 0; b < 12; b++) {
      assert.equal((await post(srv.url, ndjson(makeEvents(b + 1, 80)))).status, 200);
      now += 37_000;
    }
    const raw = await rawEvents(srv.url);
    assert.equal(raw.length, 960);
    assert.ok(raw.some((e) => e.ms < MIDNIGHT) && raw.some((e) => e.ms >= MIDNIGHT), 'events on both days');
    await checkReports(srv.url, raw, 'live');

    await srv.close();
    srv = await startTestServer({}, { dataDir, clock: () => now });
    await checkReports(srv.url, raw, 'after a restart');

    // Day files from before rollups: tables dropped, version back to 2; rebuilt at open.
    await srv.close();
    for (const day of ['20261201', '20261202']) {
      const db = new Database(join(dataDir, `events-${day}.db`));
      db.exec(
        'DROP TABLE rollup_levels; DROP TABLE rollup_keys; DROP TABLE rollup_values; DROP TABLE rollup_levels_h; DROP TABLE rollup_keys_h; DROP TABLE rollup_values_h',
      );
      db.pragma('user_version = 2');
      db.close();
    }
    srv = await startTestServer({}, { dataDir, clock: () => now });
    await checkReports(srv.url, raw, 'rebuilt at open');

    // The first day leaves with its rollups, and comes back with them.
    const archived = await archiveDays(dataDir, '20261202', '20261202');
    assert.deepEqual(
      archived.map((d) => d.day),
      ['20261201'],
    );
    await checkReports(
      srv.url,
      raw.filter((e) => e.ms >= MIDNIGHT),
      'day 1 archived',
    );
    await restoreArchive(dataDir, archived[0]?.file as string);
    await checkReports(srv.url, raw, 'day 1 restored');
  } finally {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('bad report parameters get 400 with the reason; the default window is the last hour', async () => {
  const srv = await startTestServer();
  try {
    assert.equal((await post(srv.url, ndjson([{ session: 'a', key: 'api.latency', value: 12, component: 'api' }]))).status, 200);
    const bad: [string, RegExp][] = [
      ['/v1/reports/stats', /'key' is required/],
      ['/v1/reports/stats?key=', /'key' is required/],
      ['/v1/reports/stats?key=x&from=yesterday', /'from' must be an RFC 3339/],
      ['/v1/reports/components?from=2026-12-02T10:00:00Z&to=2026-12-02T09:00:00Z', /'from' .* is after 'to'/],
      ['/v1/reports/components?from=0&to=2026-12-02T09:00:00Z', /longer than 31 days/],
      ['/v1/reports/keys?limit=0', /'limit' must be an integer from 1 to 1000/],
      ['/v1/reports/keys?limti=5', /unknown parameter 'limti'/],
      ['/v1/reports/stats?key=a&key=b', /'key' given more than once/],
    ];
    for (const [path, reason] of bad) {
      const r = await getJson(srv.url, path);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.code, 'LOGSRV_ERR_BAD_PARAM');
      assert.match(r.body.error.message, reason, path);
    }
    const keys = await getJson(srv.url, '/v1/reports/keys');
    assert.deepEqual(keys.body.keys, [{ key: 'api.latency', events: 1 }]);
    assert.ok(Date.parse(keys.body.to) - Date.parse(keys.body.from) >= 3_600_000);
    const st = await getJson(srv.url, '/v1/reports/stats?key=api.latency&component=api');
    assert.deepEqual([st.body.count, st.body.p50, st.body.max, st.body.component], [1, 12, 12, 'api']);
    const none = await getJson(srv.url, '/v1/reports/stats?key=api.latency&component=db');
    assert.deepEqual([none.body.count, none.body.mean, none.body.p99], [0, null, null]);
  } finally {
    await srv.dispose();
  }
});

test('reports need a read token; a session-restricted token gets 403', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-reports-auth-'));
  const read = createToken(dataDir, { scopes: ['read'] }).token;
  const ingest = createToken(dataDir, { scopes: ['ingest'] }).token;
  const scoped = createToken(dataDir, { scopes: ['read'], sessionPrefix: 'ws-1/' }).token;
  const srv = await startTestServer({}, { dataDir });
  try {
    const status = async (token: string | null, path: string) =>
      (await fetch(`${srv.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;
    for (const path of ['/v1/reports/components', '/v1/reports/keys', '/v1/reports/stats?key=k']) {
      assert.equal(await status(null, path), 401, path);
      assert.equal(await status(read, path), 200, path);
      assert.equal(await status(ingest, path), 403, path);
      assert.equal(await status(scoped, path), 403, path);
      assert.equal(await status(scoped, `${path}${path.includes('?') ? '&' : '?'}session=ws-1/a`), 403, 'a session= parameter does not open them');
    }
    const r = await fetch(`${srv.url}/v1/reports/keys`, { headers: { authorization: `Bearer ${scoped}` } });
    assert.match(((await r.json()) as any).error.message, /reports span every session/);
    assert.equal(await status(read, '/v1/reports/blocked'), 403, 'the blocked-sources report stays admin');
  } finally {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
