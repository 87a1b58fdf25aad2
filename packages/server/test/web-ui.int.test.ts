/**
 * The web UI's files as the real server serves them (packages/web/dist, built by `npm run build`):
 * types, caching, client-side routes — and the API paths untouched by the fallback.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestServer } from './helpers.ts';
import { startTestServer } from './helpers.ts';

const DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const built = existsSync(`${DIST}index.html`);
let server: TestServer;

before(async () => {
  if (built) server = await startTestServer();
});
after(async () => {
  await server?.dispose();
});

const opts = { skip: built ? false : 'packages/web/dist is missing: run `npm run build`' };

test('GET / is the built index.html, not cached, with a CSP that allows no inline or foreign script', opts, async () => {
  const res = await fetch(`${server.url}/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self';/);
  assert.equal(await res.text(), readFileSync(`${DIST}index.html`, 'utf8'));
});

test('hashed assets are served with their type and cached for a year; an unknown asset is a 404, not the page', opts, async () => {
  const html = readFileSync(`${DIST}index.html`, 'utf8');
  const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1];
  assert.ok(js && css, html);
  for (const [path, type] of [
    [js, 'text/javascript; charset=utf-8'],
    [css, 'text/css; charset=utf-8'],
  ] as const) {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), type);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(Buffer.from(await res.arrayBuffer()).length, readFileSync(`${DIST}${path.slice(1)}`).length);
  }
  const missing = await fetch(`${server.url}/assets/index-nothere.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'LOGSRV_ERR_NOT_FOUND');
});

test('client-side routes get the page; API paths keep their own answers', opts, async () => {
  for (const [path, accept] of [
    ['/s/build-42', '*/*'],
    ['/s/ws-42%2Fbuild?line=1-2', '*/*'],
    ['/health', '*/*'],
    ['/anything/else', 'text/html,application/xhtml+xml,*/*;q=0.8'],
  ] as const) {
    const res = await fetch(`${server.url}${path}`, { headers: { accept } });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8', path);
    assert.match(await res.text(), /<div id="root">/);
  }
  const api = await fetch(`${server.url}/v1/nope`);
  assert.equal(api.status, 404);
  for (const path of ['/v2/nothing', '/anything/else']) {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 404, `${path}: a program (no Accept: text/html) gets the JSON 404`);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'LOGSRV_ERR_NOT_FOUND');
  }
  assert.deepEqual(await api.json(), { error: { code: 'LOGSRV_ERR_NOT_FOUND', message: 'no route GET /v1/nope' } });
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, 'ok');
  const metrics = await fetch(`${server.url}/metrics`);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await metrics.text(), /logsrv_accepted_total/);
  const post = await fetch(`${server.url}/s/build-42`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 404, 'only GET serves the page');
});

test('without a build, / explains how to make one and API paths still answer as before', async () => {
  const { default: Fastify } = await import('fastify');
  const { registerWebUi } = await import('../src/http/home.ts');
  const app = Fastify();
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: { code: 'LOGSRV_ERR_NOT_FOUND' } }));
  registerWebUi(app, '/nonexistent/web/dist/');
  const home = await app.inject({ method: 'GET', url: '/' });
  assert.equal(home.statusCode, 200);
  assert.equal(home.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(home.body, /web UI is not built/);
  assert.match(home.body, /npm run build/);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/x' })).statusCode, 404);
  await app.close();
});
