import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, createToken, loadConfig, revokeToken, startServer } from '@logsrv/server';
import type { TestServer } from './helpers.ts';
import { ndjson, startTestServer } from './helpers.ts';

type Who = 'none' | 'bad' | 'revoked' | 'ingest' | 'read' | 'admin' | 'scoped';

describe('tokens and scopes', () => {
  let srv: TestServer;
  const tokens: Partial<Record<Who, string>> = { bad: 'lsv_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
  const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-auth-'));

  before(async () => {
    for (const s of ['ingest', 'read', 'admin'] as const) tokens[s] = createToken(dataDir, { scopes: [s] }).token;
    tokens.scoped = createToken(dataDir, { scopes: ['ingest', 'read'], sessionPrefix: 'ws-1/' }).token;
    const r = createToken(dataDir, { scopes: ['admin'] });
    revokeToken(dataDir, r.entry.id);
    tokens.revoked = r.token;
    srv = await startTestServer({}, { dataDir });
    await call(
      'admin',
      'POST',
      '/v1/events',
      ndjson([
        { session: 'ws-1/a', key: 'stdout', value: 'mine' },
        { session: 'other', key: 'stdout', value: 'secret' },
      ]),
    );
  });
  after(async () => {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function call(who: Who, method: string, path: string, body?: string): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': method === 'PUT' ? 'application/json' : 'application/x-ndjson' };
    const t = tokens[who];
    if (who !== 'none' && t) headers.authorization = `Bearer ${t}`;
    return fetch(`${srv.url}${path}`, { method, headers, body, signal: AbortSignal.timeout(5000) });
  }

  /** Status of a request; SSE responses are read only up to their headers. */
  async function status(who: Who, method: string, path: string, body?: string): Promise<number> {
    const res = await call(who, method, path, body);
    await res.body?.cancel();
    return res.status;
  }

  const event = ndjson([{ session: 'ws-1/b', key: 'stdout', value: 'x' }]);
  const endpoints: { name: string; method: string; path: string; body?: string; scope: 'ingest' | 'read' | 'admin' }[] = [
    { name: 'ingest', method: 'POST', path: '/v1/events', body: event, scope: 'ingest' },
    { name: 'session events', method: 'GET', path: '/v1/sessions/ws-1%2Fa/events', scope: 'read' },
    { name: 'session tail', method: 'GET', path: '/v1/sessions/ws-1%2Fa/tail?from=now', scope: 'read' },
    { name: 'cross-session tail', method: 'GET', path: '/v1/tail?session=ws-1%2Fa&from=now', scope: 'read' },
    { name: 'search across sessions', method: 'GET', path: '/v1/events?session=ws-1%2Fa&q=mine', scope: 'read' },
    { name: 'sessions list', method: 'GET', path: '/v1/sessions?user=u1', scope: 'read' },
    { name: 'session registry write', method: 'PUT', path: '/v1/sessions/ws-1%2Fa', body: JSON.stringify({ user: 'u1' }), scope: 'admin' },
    { name: 'metrics', method: 'GET', path: '/metrics', scope: 'read' },
    { name: 'blocked report', method: 'GET', path: '/v1/reports/blocked', scope: 'admin' },
  ];
  for (const e of endpoints) {
    test(`${e.name}: 401 without a valid token, 403 with the wrong scope, 2xx with the right one`, async () => {
      assert.equal(await status('none', e.method, e.path, e.body), 401, 'no token');
      assert.equal(await status('bad', e.method, e.path, e.body), 401, 'unknown token');
      assert.equal(await status('revoked', e.method, e.path, e.body), 401, 'revoked token');
      const allowed = (code: number) => code >= 200 && code < 300;
      for (const s of ['ingest', 'read'] as const) {
        const code = await status(s, e.method, e.path, e.body);
        if (e.scope === s) assert.ok(allowed(code), `${s} token: ${code}`);
        else assert.equal(code, 403, `${s} token`);
      }
      const admin = await status('admin', e.method, e.path, e.body);
      assert.ok(allowed(admin), `admin token: ${admin}`);
    });
  }

  test('errors say what is missing, and 401 carries WWW-Authenticate', async () => {
    const none = await call('none', 'GET', '/v1/sessions/x/events');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="logsrv"');
    assert.equal(((await none.json()) as any).error.code, 'LOGSRV_ERR_UNAUTHORIZED');
    const wrong = await call('ingest', 'GET', '/v1/sessions/x/events');
    assert.match(((await wrong.json()) as any).error.message, /lacks the 'read' scope/);
  });

  test('health stays open', async () => {
    assert.equal(await status('none', 'GET', '/healthz'), 200);
  });

  test('a session-restricted token cannot reach another session through any endpoint', async () => {
    assert.equal(await status('scoped', 'GET', '/v1/sessions/ws-1%2Fa/events'), 200);
    assert.equal(await status('scoped', 'GET', '/v1/sessions/other/events'), 403);
    assert.equal(await status('scoped', 'GET', '/v1/sessions/other/tail'), 403);
    assert.equal(await status('scoped', 'GET', '/v1/tail'), 403);
    assert.equal(await status('scoped', 'GET', '/v1/tail?session=other'), 403);
    assert.equal(await status('scoped', 'GET', '/v1/reports/blocked'), 403);
    assert.equal(await status('scoped', 'GET', '/v1/events?q=secret'), 403);
    assert.equal(await status('scoped', 'GET', '/v1/events?session=other&q=secret'), 403);
    assert.equal(await status('scoped', 'GET', '/v1/sessions?prefix=oth'), 403);
    assert.equal(await status('scoped', 'PUT', '/v1/sessions/ws-1%2Fz', JSON.stringify({ user: 'x' })), 403);
    const own = (await (await call('scoped', 'GET', '/v1/sessions/ws-1%2Fa/events')).json()) as any;
    assert.deepEqual(
      own.events.map((x: any) => x.value),
      ['mine'],
    );
  });

  test('/metrics with a session-restricted token: 403 saying why, not advice that means nothing there', async () => {
    for (const path of ['/metrics', '/metrics?session=ws-1%2Fa']) {
      const r = await call('scoped', 'GET', path);
      assert.equal(r.status, 403);
      const body = (await r.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'LOGSRV_ERR_FORBIDDEN');
      assert.match(body.error.message, /\/metrics counts every session.*use a read token without --session-prefix/);
      assert.doesNotMatch(body.error.message, /pass session=/);
    }
  });

  test('a session-restricted token lists only its own sessions; prefix= narrows any list', async () => {
    const names = async (who: Who, path: string) => {
      const res = await call(who, 'GET', path);
      assert.equal(res.status, 200, path);
      return ((await res.json()) as any).sessions.map((s: any) => s.session).sort();
    };
    // Other tests in this file add sessions too: the expectations follow what an admin sees.
    const all: string[] = await names('admin', '/v1/sessions');
    assert.ok(all.includes('other') && all.includes('ws-1/a'), all.join());
    assert.deepEqual(await names('admin', '/v1/sessions?prefix=oth'), ['other']);
    const own = all.filter((s) => s.startsWith('ws-1/'));
    assert.deepEqual(await names('scoped', '/v1/sessions'), own);
    assert.deepEqual(await names('scoped', '/v1/sessions?prefix=ws'), own, 'a broader prefix is narrowed to the token');
    assert.deepEqual(await names('scoped', '/v1/sessions?prefix=ws-1%2Fzz'), []);
    assert.deepEqual(await names('scoped', '/v1/sessions?q=secret'), [], 'text search does not leak other sessions');
    const refused = await call('scoped', 'GET', '/v1/sessions?prefix=other');
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as any).error.message, /reaches only sessions starting with 'ws-1\/'/);
  });

  test('a session-restricted token ingests its own sessions and gets the others rejected per event', async () => {
    const res = await call(
      'scoped',
      'POST',
      '/v1/events',
      ndjson([
        { session: 'ws-1/c', key: 'k', value: 1 },
        { session: 'ws-2/c', key: 'k', value: 2 },
      ]),
    );
    const body = (await res.json()) as any;
    assert.equal(res.status, 200);
    assert.equal(body.accepted, 1);
    assert.equal(body.rejected[0].index, 1);
    assert.equal(body.rejected[0].reason, 'forbidden');
    const stolen = (await (await call('admin', 'GET', '/v1/sessions/ws-2%2Fc/events')).json()) as any;
    assert.deepEqual(stolen.events, []);
  });

  test('revoking a token closes its open tail with an error event and refuses it from then on', async () => {
    const t = createToken(dataDir, { scopes: ['read'] });
    await new Promise((r) => setTimeout(r, 1200)); // the server notices the new token
    const res = await fetch(`${srv.url}/v1/sessions/ws-1%2Fa/tail`, { headers: { authorization: `Bearer ${t.token}` } });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const done = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    revokeToken(dataDir, t.entry.id);
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`tail not closed; got ${text}`)), 5000))]);
    assert.match(text, /event: error\ndata: \{"code":"LOGSRV_ERR_UNAUTHORIZED","message":"token revoked"\}/);
    const again = await fetch(`${srv.url}/v1/sessions/ws-1%2Fa/events`, { headers: { authorization: `Bearer ${t.token}` } });
    assert.equal(again.status, 401);
  });
});

describe('secure defaults', () => {
  test('refuses to listen off loopback without tokens, naming the fix', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-open-'));
    try {
      const config = loadConfig({ http: '0.0.0.0:0', udp: 'off', dataDir, logLevel: 'silent' });
      await assert.rejects(
        startServer(config),
        (err: unknown) => err instanceof ConfigError && /refusing to listen on 0\.0\.0\.0 without tokens.*logsrv token create.*--insecure/.test(err.message),
      );
      const udp = loadConfig({ http: '127.0.0.1:0', udp: '0.0.0.0:0', dataDir, logLevel: 'silent' });
      await assert.rejects(startServer(udp), (err: unknown) => err instanceof ConfigError && /refusing UDP on 0\.0\.0\.0/.test(err.message));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('on loopback without tokens the server is open', async () => {
    const srv = await startTestServer();
    try {
      assert.equal(srv.authEnabled, false);
      assert.equal((await fetch(`${srv.url}/v1/sessions/x/events`)).status, 200);
    } finally {
      await srv.dispose();
    }
  });
});
