/**
 * Big sessions in a real browser: a 50,000-line session opens at its end with only a window of it
 * rendered; server-side search finds a match near the start (far outside that window) and opens
 * it; a line permalink opens scrolled to and highlighting its line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, postNdjson, readPage, startServer } from './helpers.ts';
import { browserMissing, openBrowser, waitVisible } from './ui-helpers.ts';

const missing = browserMissing();
const LINES = 50_000;
const NEEDLE_AT = 123;
/** Two more matches, far apart: next/previous must load around each. */
const MORE_NEEDLES = [25_000, 45_000];

test('search finds a match outside the rendered window of a 50k-line session, and a line permalink opens at its line', {
  skip: missing ?? false,
  timeout: 120_000,
}, async (t) => {
  const server = await startServer(t);
  const lines: object[] = [];
  for (let i = 0; i < LINES; i++) {
    const value =
      i === NEEDLE_AT || MORE_NEEDLES.includes(i)
        ? `line ${i} has the zebraneedle in it`
        : i === LINES - 1
          ? `\u001b[1;32mline ${i} done\u001b[0m`
          : `line ${i} of the big session`;
    lines.push({ session: 'big', key: i % 1000 === 7 ? 'stderr' : 'stdout', value });
  }
  for (let i = 0; i < LINES; i += 10_000) {
    const r = await postNdjson(server.url, lines.slice(i, i + 10_000));
    assert.equal(r.status, 200, r.text);
    assert.equal(json<{ accepted: number }>(r).accepted, 10_000);
  }

  const { page } = await openBrowser(t);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/s/big`);
  // Opens at the end; the last line is bold green.
  await waitVisible(page, 'the last line', (l) => l.includes(`line ${LINES - 1} done`));
  const last = page.locator('.line .text span.ansi-green-fg', { hasText: `line ${LINES - 1} done` });
  assert.equal(await last.evaluate((el) => getComputedStyle(el).color), 'rgb(26, 127, 55)');
  assert.equal(await last.evaluate((el) => getComputedStyle(el).fontWeight), '700');
  // Virtualized: only a screenful of rows is in the DOM, and the needle's line is not among them.
  const rendered = await page.locator('.line').count();
  assert.ok(rendered > 10 && rendered < 400, `rendered rows: ${rendered}`);
  assert.equal(await page.getByText('zebraneedle').count(), 0, 'the match is outside the rendered window before searching');

  const box = page.getByLabel('Search this session');
  await box.fill('zebraneedle');
  await box.press('Enter');
  const seen = await waitVisible(page, 'the matching line', (l) => l.some((x) => x.includes('zebraneedle')));
  assert.ok(
    seen.some((x) => x === `line ${NEEDLE_AT} has the zebraneedle in it`),
    seen.join('\n'),
  );
  assert.equal(await page.locator('.line.current mark').textContent(), 'zebraneedle');
  assert.equal(await page.locator('.match-count').textContent(), '1 of 3');
  // Lines around the match are loaded too (history before it and after it).
  await waitVisible(
    page,
    'neighbours of the match',
    (l) => l.includes(`line ${NEEDLE_AT - 1} of the big session`) && l.includes(`line ${NEEDLE_AT + 1} of the big session`),
  );

  // Next match: far from the loaded window again; Enter in the box also steps to the next one.
  await page.getByRole('button', { name: 'Next match' }).click();
  await waitVisible(page, 'the second match', (l) => l.includes(`line ${MORE_NEEDLES[0]} has the zebraneedle in it`));
  assert.equal(await page.locator('.line.current .text').textContent(), `line ${MORE_NEEDLES[0]} has the zebraneedle in it`);
  await box.press('Enter');
  await waitVisible(page, 'the third match', (l) => l.includes(`line ${MORE_NEEDLES[1]} has the zebraneedle in it`));
  assert.equal(await page.locator('.match-count').textContent(), '3 of 3');
  await page.getByRole('button', { name: 'Previous match' }).click();
  await waitVisible(page, 'back to the second match', (l) => l.includes(`line ${MORE_NEEDLES[0]} has the zebraneedle in it`));
  assert.equal(await page.locator('.match-count').textContent(), '2 of 3');

  // A search with no match says so.
  await box.fill('nosuchwordanywhere');
  await box.press('Enter');
  await page.locator('.match-count', { hasText: 'no matches' }).waitFor();

  // Permalink: the id of line 30,000, opened in a fresh page, shows and highlights that line.
  const target = 30_000;
  const page1 = await readPage(server.url, 'big', { limit: 10_000, after: (await readPage(server.url, 'big', { limit: 10_000 })).next ?? '' });
  const page2 = await readPage(server.url, 'big', { limit: 10_000, after: page1.next ?? '' });
  const ev = (await readPage(server.url, 'big', { limit: 10_000, after: page2.next ?? '' })).events[0];
  assert.ok(ev && ev.value === `line ${target} of the big session`, JSON.stringify(ev));
  const permalink = await page.context().newPage();
  await permalink.goto(`${server.url}/s/big?line=${encodeURIComponent(ev.id)}`);
  const around = await waitVisible(permalink, 'the linked line', (l) => l.includes(`line ${target} of the big session`));
  assert.ok(!around.includes(`line ${LINES - 1} done`), 'opened at the line, not at the end');
  assert.equal(await permalink.locator('.line.current .text').textContent(), `line ${target} of the big session`);
  // Each line's gutter link is its permalink.
  const href = await permalink.locator('.line.current a.gutter').getAttribute('href');
  assert.equal(href, `/s/big?line=${encodeURIComponent(ev.id)}`);

  // Only a window is loaded, and the page says so; "Start" opens the session's first line.
  assert.match((await permalink.locator('.window-info').textContent()) ?? '', /^[\d,]+ of 50,000 events loaded$/);
  await permalink.getByRole('button', { name: '⤒ Start' }).click();
  await waitVisible(permalink, 'the first line', (l) => l[0] === 'line 0 of the big session');
  assert.deepEqual(errors, []);
});
