/**
 * `logsrv report components|keys|stats` against the spawned program and a real server: figures
 * equal a brute-force computation over the events sent (quantiles within the stated 1%), readable
 * tables, `--json`, `--component`, and errors with exit codes (1: the server refused, 2: usage).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerProcess } from './helpers.js';
import { json, postNdjson, runCli, startServer } from './helpers.js';

describe('logsrv report', () => {
  let server: ServerProcess;
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const report = (args: string[]) => runCli(['report', ...args, '--server', server.url], { timeoutMs: 20_000 });
  const latencies: number[] = [];
  const byComponent = { api: 0, web: 0 };

  before(async () => {
    server = await startServer({ after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Parameters<typeof startServer>[0]);
    const events: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      const component = i % 3 === 0 ? 'web' : 'api';
      byComponent[component]++;
      const x = ((i * 7919) % 1000) / 4 + 0.25;
      latencies.push(x);
      events.push({
        session: `s${i % 4}`,
        key: 'api.latency',
        value: i % 2 ? x : { value: x, route: '/a' },
        component,
        level: i % 10 === 0 ? 'error' : 'info',
      });
      events.push({ session: `s${i % 4}`, key: 'stdout', value: `line ${i}`, component });
    }
    events.push({ session: 's0', key: 'rare', value: 'once', component: 'api' });
    const r = await postNdjson(server.url, events);
    assert.equal(json(r).accepted, events.length, r.text);
  });

  test('stats --json: count, min, max and mean exact, quantiles within 1% of the exact values', async () => {
    const r = await report(['stats', 'api.latency', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const b = JSON.parse(r.stdout);
    const sorted = [...latencies].sort((a, c) => a - c);
    assert.equal(b.count, 300);
    assert.equal(b.min, sorted[0]);
    assert.equal(b.max, sorted[299]);
    assert.ok(Math.abs(b.mean - sorted.reduce((a, c) => a + c, 0) / 300) < 1e-9);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = sorted[Math.ceil(q * 300) - 1] as number;
      const got = b[`p${q * 100}`] as number;
      assert.ok(Math.abs(got - exact) <= 0.01 * exact, `p${q * 100}: ${got} vs exact ${exact}`);
    }
  });

  test('readable tables: components with error rates, keys most frequent first, stats per minute', async () => {
    const c = await report(['components']);
    assert.equal(c.code, 0, c.stderr);
    const lines = c.stdout.trimEnd().split('\n');
    assert.match(lines[1] as string, /^COMPONENT +EVENTS +ERRORS +ERROR RATE +LEVELS$/);
    // api: 200 latency events (20 errors among them) + 200 lines + 1 rare.
    assert.match(lines[2] as string, /^api +401 +20 +4\.99% +info 180, error 20$/);
    assert.match(lines[3] as string, /^web +200 +10 +5\.00% +info 90, error 10$/);
    const k = await report(['keys', '--limit', '2']);
    assert.deepEqual(k.stdout.trimEnd().split('\n').slice(1), ['KEY          EVENTS', 'api.latency     300', 'stdout          300']);
    const s = await report(['stats', 'api.latency', '--component', 'web']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^api\.latency: .* component web\nCOUNT +MIN +MEAN +MAX +P50 +P95 +P99\n +100 /);
    assert.match(s.stdout, /quantiles within 1% of the exact values/);
    assert.match(s.stdout, /MINUTE \(UTC\) +COUNT +MEAN +P95 +MAX\n\d{4}-\d\d-\d\d \d\d:\d\d +\d+/);
  });

  test('errors: the server refusing a parameter exits 1 with its reason; a missing KEY is a usage error', async () => {
    const bad = await report(['keys', '--from', 'yesterday']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /logsrv report: parameter 'from' must be an RFC 3339 date-time .*LOGSRV_ERR_BAD_PARAM/);
    const usage = await runCli(['report', 'stats', '--server', server.url]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing required argument 'key'/);
  });
});
