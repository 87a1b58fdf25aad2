/**
 * The sessions list in a real browser: statuses from the latest `status` / `step.exit`, a new
 * session appearing without a reload, and the user filter; then the health page's numbers and
 * charts, at phone width.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postNdjson, request, startServer } from './helpers.ts';
import { browserMissing, openBrowser } from './ui-helpers.ts';

const missing = browserMissing();

test('the sessions list shows statuses, updates by itself, filters by user; the health page charts the metrics (375 px wide)', {
  skip: missing ?? false,
  timeout: 120_000,
}, async (t) => {
  const server = await startServer(t);
  const put = (session: string, user: string) =>
    request(`${server.url}/v1/sessions/${session}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
  assert.equal((await put('build-ok', 'ada')).status < 300, true);
  assert.equal((await put('build-bad', 'grace')).status < 300, true);
  const r = await postNdjson(server.url, [
    { session: 'build-ok', key: 'stdout', value: 'fine' },
    { session: 'build-ok', key: 'step.exit', value: { code: 0, final: true } },
    { session: 'build-bad', key: 'step.exit', value: { code: 0, final: false } },
    { session: 'build-bad', key: 'status', value: 'failed' },
  ]);
  assert.equal(r.status, 200, r.text);

  const { page } = await openBrowser(t, { width: 375, height: 740 });
  await page.goto(`${server.url}/`);
  const row = (name: string) => page.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) });
  await row('build-ok').waitFor();
  assert.equal(await row('build-ok').locator('.badge.status').textContent(), 'exit 0');
  // The newer of status and step.exit wins.
  assert.equal(await row('build-bad').locator('.badge.status').textContent(), 'failed');
  assert.match((await row('build-bad').locator('.badge.status').getAttribute('class')) ?? '', /\bfail\b/);

  // A session that starts now shows up without a reload (the list polls).
  assert.equal((await postNdjson(server.url, [{ session: 'build-new', key: 'status', value: 'running' }])).status, 200);
  await row('build-new').waitFor({ timeout: 10_000 });

  // Filter by user.
  await page.getByLabel('User').fill('grace');
  await page.getByRole('button', { name: 'Apply' }).click();
  await row('build-ok').waitFor({ state: 'detached' });
  assert.equal(await row('build-bad').count(), 1);
  assert.equal(await page.locator('table.sessions tbody tr').count(), 1);

  // Nothing overflows the phone-width page horizontally.
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);

  // Health: the accepted counter as the server reports it, and the three charts drawn.
  await page.getByRole('link', { name: 'Health' }).click();
  const accepted = page.locator('.stats div', { hasText: 'accepted (total)' }).locator('dd');
  await accepted.filter({ hasText: /^5$/ }).waitFor();
  assert.equal(await page.locator('.health-page > .charts .chart canvas').count(), 3);
  assert.equal(await page.locator('.stats div', { hasText: 'status' }).locator('dd').textContent(), 'ok');
});
