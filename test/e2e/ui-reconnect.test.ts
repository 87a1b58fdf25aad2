/**
 * The session page survives a server crash: the live tail reconnects (fetch-based SSE with
 * Last-Event-ID) once the server is back on the same address, and every line shows exactly once,
 * in order — no gap, no duplicate.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { postNdjson, readPage, startServer, tempDir, waitExit } from './helpers.ts';
import { browserMissing, openBrowser, visibleLines, waitVisible } from './ui-helpers.ts';

const missing = browserMissing();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

test('after the server is killed and restarted, the page resumes its live tail from the last line it got, without gaps or duplicates', {
  skip: missing ?? false,
  timeout: 120_000,
}, async (t) => {
  const dataDir = tempDir(t);
  const port = await freePort();
  const args = ['--http', `127.0.0.1:${port}`, '--data', dataDir, '--log-level', 'warn'];
  const first = await startServer(t, { bare: true, args });
  const lines = (prefix: string) => Array.from({ length: 40 }, (_, i) => ({ session: 'crashy', key: 'stdout', value: `${prefix} ${i}` }));
  assert.equal((await postNdjson(first.url, lines('before'))).status, 200);

  // Tall enough that every one of the 80 lines is rendered at once.
  const { page } = await openBrowser(t, { width: 1000, height: 2400 });
  const tails: { url: string; lastEventId: string | undefined }[] = [];
  page.on('request', (req) => {
    if (req.url().includes('/tail')) tails.push({ url: req.url(), lastEventId: req.headers()['last-event-id'] });
  });
  await page.goto(`${first.url}/s/crashy`);
  await waitVisible(page, 'the first lines', (l) => l.includes('before 39'));
  await page.locator('.badge.tail.live').waitFor();

  first.kill('SIGKILL');
  await waitExit(first, 10_000);
  await page.locator('.badge.tail.reconnecting').waitFor();

  const second = await startServer(t, { bare: true, args });
  assert.equal(second.url, first.url);
  assert.equal((await postNdjson(second.url, lines('after'))).status, 200);
  await waitVisible(page, 'lines stored after the restart', (l) => l.includes('after 39'), 30_000);
  await page.locator('.badge.tail.live').waitFor();

  // The reconnect asked for what follows the last line the page had, with the standard header.
  const lastBefore = (await readPage(second.url, 'crashy', { limit: 40 })).events[39];
  assert.equal(lastBefore?.value, 'before 39');
  assert.ok(
    tails.some((r) => r.lastEventId === lastBefore.id && !r.url.includes('after=')),
    JSON.stringify(tails),
  );
  const shown = await visibleLines(page);
  assert.deepEqual(
    shown,
    [...lines('before'), ...lines('after')].map((e) => e.value),
  );
});
