/**
 * The shippers' HTTP protocols sit behind the same tokens, scopes, restrictions and quotas as
 * `POST /v1/events`, with the credential forms shippers can send: Bearer, HTTP Basic (token as
 * password) and Elasticsearch's ApiKey.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createToken } from '@logsrv/server';
import type { TestServer } from './helpers.ts';
import { startTestServer } from './helpers.ts';

describe('shippers behind tokens', () => {
  let srv: TestServer;
  let dataDir: string;
  const t: Record<string, string> = {};
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'logsrv-shippers-auth-'));
    t.ingest = createToken(dataDir, { scopes: ['ingest'] }).token;
    t.read = createToken(dataDir, { scopes: ['read'] }).token;
    t.admin = createToken(dataDir, { scopes: ['admin'] }).token;
    t.scoped = createToken(dataDir, { scopes: ['ingest'], sessionPrefix: 'team-a/' }).token;
    t.quota = createToken(dataDir, { scopes: ['ingest'], eventsPerSecond: 1, eventsBurst: 2 }).token;
    srv = await startTestServer({}, { dataDir });
  });
  after(async () => {
    await srv.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const otlp = (session: string) =>
    JSON.stringify({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' }, attributes: [{ key: 'session', value: { stringValue: session } }] }] }] }],
    });
  const loki = (session: string) => JSON.stringify({ streams: [{ stream: { session }, values: [['1', 'x']] }] });
  const bulk = (session: string) => `{"index":{"_index":"i"}}\n${JSON.stringify({ message: 'x', session })}\n`;
  const routes = [
    ['/v1/logs', 'application/json', otlp],
    ['/loki/api/v1/push', 'application/json', loki],
    ['/_bulk', 'application/x-ndjson', bulk],
    ['/some-index/_bulk', 'application/x-ndjson', bulk],
  ] as const;

  const send = (path: string, type: string, body: string, auth?: string) =>
    fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': type, ...(auth ? { authorization: auth } : {}) }, body });

  test('no token → 401, read token → 403, ingest or admin token → stored', async () => {
    for (const [path, type, body] of routes) {
      assert.equal((await send(path, type, body('open'))).status, 401, path);
      assert.equal((await send(path, type, body('open'), `Bearer ${t.read}`)).status, 403, path);
      assert.ok((await send(path, type, body('auth-ok'), `Bearer ${t.ingest}`)).status < 300, path);
      assert.ok((await send(path, type, body('auth-ok'), `Bearer ${t.admin}`)).status < 300, path);
    }
    // ... each refusal in its protocol's words
    const otlp401 = await send('/v1/logs', 'application/json', otlp('open'));
    assert.deepEqual(await otlp401.json(), { code: 16, message: 'missing token: send Authorization: Bearer <token> (create one with `logsrv token create`)' });
    const loki403 = await send('/loki/api/v1/push', 'application/json', loki('open'), `Bearer ${t.read}`);
    assert.match(await loki403.text(), /^this token lacks the 'ingest' scope/);
    const es401 = await send('/_bulk', 'application/x-ndjson', bulk('open'));
    assert.equal(es401.headers.get('x-elastic-product'), 'Elasticsearch');
    assert.deepEqual(((await es401.json()) as { error: { type: string }; status: number }).error.type, 'security_exception');
    const res = await fetch(`${srv.url}/v1/sessions/auth-ok/events`, { headers: { authorization: `Bearer ${t.read}` } });
    assert.equal(((await res.json()) as { events: unknown[] }).events.length, 8);
  });

  test('Basic (token as password) and ApiKey credentials work; a wrong password does not', async () => {
    const basic = `Basic ${Buffer.from(`promtail:${t.ingest}`).toString('base64')}`;
    const apiKey = `ApiKey ${Buffer.from(`id1:${t.ingest}`).toString('base64')}`;
    assert.equal((await send('/loki/api/v1/push', 'application/json', loki('basic'), basic)).status, 204);
    assert.equal((await send('/_bulk', 'application/x-ndjson', bulk('apikey'), apiKey)).status, 200);
    const wrong = `Basic ${Buffer.from('promtail:nope').toString('base64')}`;
    assert.equal((await send('/loki/api/v1/push', 'application/json', loki('basic'), wrong)).status, 401);
  });

  test('a session-restricted token stores only its sessions; the others are rejected per item as forbidden', async () => {
    const r = await send('/_bulk', 'application/x-ndjson', bulk('team-a/one') + bulk('team-b/two'), `Bearer ${t.scoped}`);
    const body = (await r.json()) as { errors: boolean; items: { index: { status: number; error?: { type: string } } }[] };
    assert.equal(body.errors, true);
    assert.deepEqual(
      body.items.map((i) => [i.index.status, i.index.error?.type ?? null]),
      [
        [201, null],
        [403, 'security_exception'],
      ],
    );
    const o = await send('/v1/logs', 'application/json', otlp('team-b/x'), `Bearer ${t.scoped}`);
    assert.equal(o.status, 200);
    assert.match(((await o.json()) as { partialSuccess: { errorMessage: string } }).partialSuccess.errorMessage, /forbidden/);
    const admin = `Bearer ${t.admin}`;
    const events = await (await fetch(`${srv.url}/v1/sessions/${encodeURIComponent('team-a/one')}/events`, { headers: { authorization: admin } })).json();
    assert.equal((events as { events: unknown[] }).events.length, 1);
  });

  test('a token over its event quota gets 429 with Retry-After from every protocol', async () => {
    const auth = `Bearer ${t.quota}`;
    // burst 2: the first request takes both, then the token is in debt
    const many = `${bulk('quota')}${bulk('quota')}${bulk('quota')}`;
    assert.equal((await send('/_bulk', 'application/x-ndjson', many, auth)).status, 200);
    for (const [path, type, body] of routes) {
      const r = await send(path, type, body('quota'), auth);
      assert.equal(r.status, 429, path);
      assert.ok(Number(r.headers.get('retry-after')) >= 1, path);
    }
  });
});
