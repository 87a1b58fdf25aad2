/**
 * The web UI at `/` (SPEC §8): the files `packages/web` builds into `packages/web/dist`, served as
 * they are. The list of files is read once when the app is built, and only those files are ever
 * served — a request path is looked up in that map, never joined onto a directory, so no path
 * can reach outside it. (A rebuild of the UI while the server runs needs a restart.)
 *
 * - `/assets/*` carry a content hash in their names: cached for a year, `immutable`.
 * - `index.html` is sent with `no-cache` (a new build is picked up at the next load) for the UI's
 *   routes (`/s/…`, `/health`) and for any other GET a browser asks for as a page (`Accept:
 *   text/html`), where the app shows its own "not found".
 * - API paths (`/v<n>/…`, `/healthz`, `/metrics`) never fall back to the UI, and neither does a
 *   request that does not ask for HTML: a wrong URL from a program keeps its JSON 404.
 * - Without a build (`packages/web/dist` missing) `/` explains how to make one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** `packages/web/dist`, seen from `packages/server/dist/http/`. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The UI only talks to this origin and renders log text as text; the policy makes any injected
 * markup inert even if a bug let some through. No inline scripts; React and uPlot set styles
 * through the CSSOM, which `style-src 'self'` does not block.
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  type: string;
  cache: string;
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Every built file by URL path; null when there is no build. Files are small and few, so they are held in memory. */
export function loadWebAssets(root: string): Map<string, Asset> | null {
  if (!existsSync(join(root, 'index.html'))) return null;
  const assets = new Map<string, Asset>();
  for (const file of walk(root, [])) {
    const url = `/${relative(root, file).split(sep).join('/')}`;
    const hashed = url.startsWith('/assets/');
    assets.set(url, {
      body: readFileSync(file),
      type: TYPES[extname(file)] ?? 'application/octet-stream',
      cache: hashed ? 'public, max-age=31536000, immutable' : url === '/index.html' ? 'no-cache' : 'public, max-age=3600',
    });
  }
  return assets;
}

/** Paths the UI never answers: the API and the operational endpoints keep their own 404s. */
export function isApiPath(path: string): boolean {
  return /^\/v\d+(\/|$)/.test(path) || path === '/healthz' || path === '/metrics';
}

/** The app's own routes (packages/web/src/router.tsx). */
function isUiRoute(path: string): boolean {
  return path.startsWith('/s/') || path === '/health' || path === '/sessions';
}

function send(reply: FastifyReply, asset: Asset): FastifyReply {
  reply.header('cache-control', asset.cache).header('x-content-type-options', 'nosniff');
  if (asset.type.startsWith('text/html')) reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer');
  return reply.type(asset.type).send(asset.body);
}

/** Registers `GET /` and the catch-all GET that serves built files and client-side routes. */
export function registerWebUi(app: FastifyInstance, root: string = DEFAULT_WEB_ROOT): void {
  const assets = loadWebAssets(root);
  if (!assets) {
    app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(missingBuildPage(root)));
    return;
  }
  const index = assets.get('/index.html') as Asset;
  app.get('/', async (_req, reply) => send(reply, index));
  app.get('/*', async (req, reply) => {
    const path = req.url.split('?', 1)[0] as string;
    if (isApiPath(path)) return reply.callNotFound();
    const asset = assets.get(path);
    if (asset) return send(reply, asset);
    // A hashed file from another build: a 404, never the page (a script tag would get HTML).
    if (path.startsWith('/assets/')) return reply.callNotFound();
    if (isUiRoute(path) || /\btext\/html\b/.test(req.headers.accept ?? '')) return send(reply, index);
    return reply.callNotFound();
  });
}

/** What `/` says when the UI was not built. */
export function missingBuildPage(root: string): string {
  const where = root.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>logsrv — web UI not built</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}} code{font-size:13px}</style></head>
<body><h1>logsrv is running — the web UI is not built</h1>
<p>There is no <code>${where}index.html</code>. Build it with <code>npm run build</code> (or <code>npm install</code>,
which builds everything), then restart the server.</p>
<p>The API works without it: <code>/v1/sessions</code>, <code>/v1/sessions/NAME/events?format=html</code>,
<a href="/healthz">/healthz</a>, <a href="/metrics">/metrics</a>.</p>
</body></html>
`;
}
