/**
 * Per-token event quotas (issue 5): a token created with an events-per-second allowance gets 429
 * with Retry-After once it has spent it, loses nothing it was told was accepted, is listed in the
 * blocked report, and leaves other tokens alone. Through HTTP against a real server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createToken } from '@logsrv/server';
import { ndjson, startTestServer } from './helpers.ts';

test('a token over its event quota gets 429 + Retry-After, other tokens are served, the report names it', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-quota-'));
  const limited = createToken(dataDir, { scopes: ['ingest'], name: 'noisy', eventsPerSecond: 50, eventsBurst: 100 });
  const free = createToken(dataDir, { scopes: ['ingest'] });
  const admin = createToken(dataDir, { scopes: ['admin'] }).token;
  const srv = await startTestServer({}, { dataDir });
  const send = (token: string, session: string, n: number) =>
    fetch(`${srv.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
      body: ndjson(Array.from({ length: n }, (_, i) => ({ session, key: 'k', value: i }))),
    });
  const stored = async (session: string) =>
    (
      (await (await fetch(`${srv.url}/v1/sessions/${session}/events?limit=1000`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
        events: unknown[];
      }
    ).events.length;
  try {
    // The burst allows one request of 150 (balance 100 → -50: debt, paid back at 50/s).
    const first = await send(limited.token, 'noisy', 150);
    assert.equal(first.status, 200);
    assert.equal(((await first.json()) as { accepted: number }).accepted, 150);
    const refused = await send(limited.token, 'noisy', 10);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 3, `retry-after ${retryAfter}`);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'LOGSRV_ERR_RATE_LIMITED');
    assert.match(body.error.message, new RegExp(`token ${limited.entry.id} is over its quota of 50 events/s \\(burst 100\\)`));

    const other = await send(free.token, 'quiet', 500);
    assert.equal(other.status, 200, 'a token without a quota is not affected');

    const report = (await (await fetch(`${srv.url}/v1/reports/blocked?window=15m`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
      sources: { source: string; transport: string; count: number }[];
    };
    assert.deepEqual(
      report.sources.map((s) => [s.source, s.transport, s.count]),
      [[`token ${limited.entry.id}`, 'http', 1]],
    );

    // After the advertised wait the debt is paid and the token is served again.
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    const later = await send(limited.token, 'noisy', 10);
    assert.equal(later.status, 200);
    assert.equal(await stored('noisy'), 160, 'everything acknowledged is stored; nothing of the refused request');
    assert.equal(await stored('quiet'), 500);
  } finally {
    await srv.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
