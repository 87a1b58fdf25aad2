/**
 * Step sections on the session page: headers with exit badges, collapsing, stderr told apart,
 * timestamps on demand, and a search match inside a collapsed step opening it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postNdjson, startServer } from './helpers.ts';
import { browserMissing, openBrowser, visibleLines, waitVisible } from './ui-helpers.ts';

const missing = browserMissing();

test('steps are sections with exit badges that collapse; stderr is marked; timestamps toggle; a match in a collapsed step opens it', {
  skip: missing ?? false,
  timeout: 60_000,
}, async (t) => {
  const server = await startServer(t);
  const s = 'two-steps';
  const r = await postNdjson(server.url, [
    { session: s, step: 'build', key: 'step.start', value: { command: ['make', 'all'] } },
    { session: s, step: 'build', key: 'stdout', value: 'cc -o app main.c' },
    { session: s, step: 'build', key: 'step.exit', value: { code: 0, durationMs: 1500, final: false } },
    { session: s, step: 'test', key: 'step.start', value: { command: ['make', 'test'] } },
    { session: s, step: 'test', key: 'stdout', value: 'running 3 tests' },
    { session: s, step: 'test', key: 'stderr', value: 'test_parse failed: wombat mismatch' },
    { session: s, step: 'test', key: 'step.exit', value: { code: 2, durationMs: 800, final: true } },
  ]);
  assert.equal(r.status, 200, r.text);

  const { page } = await openBrowser(t);
  await page.goto(`${server.url}/s/${s}`);
  await waitVisible(page, 'all lines', (l) => l.includes('running 3 tests'));
  await page.locator('.badge.tail.ended').waitFor();
  const header = (name: string) => page.locator('.line.start', { has: page.locator('strong', { hasText: name }) });
  assert.equal(await header('build').locator('.badge').textContent(), 'exit 0');
  assert.equal(await header('build').locator('.step-duration').textContent(), '1.5 s');
  assert.equal(await header('test').locator('.badge').textContent(), 'exit 2');
  assert.equal(await header('test').locator('.step-duration').textContent(), '800 ms');
  assert.match((await header('test').locator('.badge').getAttribute('class')) ?? '', /\bfail\b/);
  assert.equal(await page.locator('.badge.status').textContent(), 'exit 2');

  // stderr: its own class, a different background from stdout, and a label for screen readers.
  const err = page.locator('.line.err');
  assert.equal(await err.locator('.text').textContent(), 'test_parse failed: wombat mismatch');
  const bg = (sel: string) =>
    page
      .locator(sel)
      .first()
      .evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.notEqual(await bg('.line.err'), await bg('.line.out'));
  assert.equal(await err.locator('.visually-hidden').textContent(), 'stderr: ');

  // Collapse the test step: its lines go, its header stays.
  const toggle = header('test').getByRole('button');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  await waitVisible(page, 'the collapsed step', (l) => !l.includes('running 3 tests') && l.includes('cc -o app main.c'));

  // Timestamps: the gutter shows the time of each line.
  await page.getByLabel('timestamps').check();
  assert.match((await page.locator('.line.out .gutter').first().textContent()) ?? '', /^\d\d:\d\d:\d\d\.\d{3}$/);

  // A match inside the collapsed step opens it and is highlighted.
  const search = page.getByLabel('Search this session');
  await search.fill('wombat');
  await search.press('Enter');
  await page.locator('.line.current mark', { hasText: 'wombat' }).waitFor();
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  assert.ok((await visibleLines(page)).includes('running 3 tests'));

  // Structured events: the latest value per key, and a key's history on demand.
  const exitRow = page.locator('.events-table tbody tr', { has: page.locator('th', { hasText: 'step.exit' }) });
  assert.match((await exitRow.locator('.value').textContent()) ?? '', /"code":2/);
  await exitRow.getByRole('button', { name: 'History' }).click();
  await exitRow.locator('.history li').nth(1).waitFor();
  assert.equal(await exitRow.locator('.history li').count(), 2);

  // Keyboard: "/" focuses the search box, "t" toggles timestamps back off.
  await page.locator('h1').click();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'session-search');
  await page.locator('h1').click();
  await page.keyboard.press('t');
  assert.equal(await page.getByLabel('timestamps').isChecked(), false);

  // Theme: the toggle cycles auto → light → dark, and dark changes the page colours.
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();
  await page.getByRole('button', { name: /Colour theme: auto/ }).click();
  await page.getByRole('button', { name: /Colour theme: light/ }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  assert.notEqual(await background(), light);
});
