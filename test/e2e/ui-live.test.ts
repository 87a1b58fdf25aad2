/**
 * The session page in a real browser against a real server, watching a `logsrv run` command while
 * it is still running: live lines, ANSI colours, markup kept as text, follow paused by scrolling
 * up and resumed by "jump to live", and the end of the session ending the follow.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { json, request, runCli, startServer, tempDir } from './helpers.ts';
import { browserMissing, openBrowser, until, visibleLines, waitVisible } from './ui-helpers.ts';

const missing = browserMissing();

test('a running command streams into the session page live, in colour, as text; scrolling up pauses follow and "jump to live" resumes it', {
  skip: missing ?? false,
  timeout: 120_000,
}, async (t) => {
  const server = await startServer(t);
  const dir = tempDir(t, 'logsrv-ui-run-');
  const stop = join(dir, 'STOP');
  // 300 lines at once, then a red tick and a line of markup every 100 ms until STOP exists.
  const script = [
    'i=0; while [ $i -lt 300 ]; do echo "pre $i"; i=$((i+1)); done',
    `n=0; while [ ! -f '${stop}' ]; do printf '\\033[31mtick %d\\033[0m\\n' $n; echo "<script>alert(1)</script> markup $n"; n=$((n+1)); sleep 0.1; done`,
  ].join('; ');
  let finished = false;
  const run = runCli(['run', '--server', server.url, '--session', 'live-1', '--', 'sh', '-c', script], { timeoutMs: 100_000 });
  run.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );
  // Hooks run in order: this one is registered after tempDir's removal, so it may find no dir.
  t.after(() => {
    try {
      if (!existsSync(stop)) writeFileSync(stop, '');
    } catch {}
  });

  const { page } = await openBrowser(t);
  const dialogs: string[] = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // Wait until the command has produced ticks, then open the page while it is still running.
  await until('the first ticks to be stored', async () => {
    const r = await request(`${server.url}/v1/sessions/live-1/events?key=stdout&limit=1000`);
    return r.status === 200 && json<{ events: { value: string }[] }>(r).events.some((e) => String(e.value).includes('tick 2'));
  });
  await page.goto(`${server.url}/s/live-1`);
  const firstSeen = await waitVisible(page, 'a tick line', (l) => l.some((x) => /^tick \d+$/.test(x)));
  const maxTick = (lines: string[]) => Math.max(-1, ...lines.map((x) => /^tick (\d+)$/.exec(x)).map((m) => (m ? Number(m[1]) : -1)));
  const t0 = maxTick(firstSeen);
  // New lines keep arriving while the command runs: a later tick shows up without any reload.
  await waitVisible(page, `a tick after ${t0}`, (l) => maxTick(l) >= t0 + 5);
  assert.equal(finished, false, 'the command was still running while its lines appeared');
  await until('the live badge', async () => (await page.locator('.badge.tail.live').count()) > 0);

  // ANSI: "tick N" is wrapped in a span coloured by the theme's red, not shown as escape codes.
  const tick = page.locator('.line .text span.ansi-red-fg').last();
  assert.match((await tick.textContent()) ?? '', /^tick \d+$/);
  assert.equal(await tick.evaluate((el) => getComputedStyle(el).color), 'rgb(179, 38, 30)');
  const shown = (await page.locator('.terminal').textContent()) ?? '';
  assert.ok(!shown.includes('\u001b'), 'no raw escape codes on screen');

  // Markup in a line is text: no dialog, no script element, the characters are in textContent.
  const markup = page.locator('.line .text', { hasText: '<script>alert(1)</script> markup' }).last();
  assert.match((await markup.textContent()) ?? '', /^<script>alert\(1\)<\/script> markup \d+$/);
  assert.equal(await page.locator('.terminal script').count(), 0);
  assert.deepEqual(dialogs, []);

  // Scroll up: following pauses, the "jump to live" button appears, and new lines do not pull the view down.
  const scroller = page.locator('.log-list');
  const box = await scroller.boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -1500);
  const jump = page.getByRole('button', { name: /jump to live/i });
  await jump.waitFor({ state: 'visible' });
  // The wheel's scroll may still be settling and the rows it uncovered not yet rendered: the paused
  // view is what shows once two frames in a row have the same scroll position and some lines.
  const paused = await settledView(page);
  const pausedMax = maxTick(paused);
  const stored = async () => {
    const r = await request(`${server.url}/v1/sessions/live-1`);
    return json<{ count: number }>(r).count;
  };
  const countAtPause = await stored();
  await until('20 more events to be stored', async () => (await stored()) >= countAtPause + 20);
  // Give the page the frames it needs to apply what the tail delivered, then check it stayed put.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const still = await settledView(page);
  const mode = await page.locator('.terminal [aria-live]').textContent();
  assert.ok(
    maxTick(still) <= pausedMax,
    `the view stayed where the user scrolled (was ≤ tick ${pausedMax}, now shows tick ${maxTick(still)}; ${mode}; jump button ${await jump.isVisible()}; paused view ${paused.slice(0, 2).join(' | ')} … ${paused.slice(-2).join(' | ')}; now ${still.slice(0, 2).join(' | ')} … ${still.slice(-2).join(' | ')})`,
  );
  assert.equal(await scroller.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight > 50), true, 'not at the bottom');

  // Jump to live: back at the bottom, following again (newer ticks keep appearing).
  await jump.click();
  const back = await waitVisible(page, 'ticks newer than the paused view', (l) => maxTick(l) > pausedMax + 10);
  await jump.waitFor({ state: 'hidden' });
  await waitVisible(page, 'following after the jump', (l) => maxTick(l) > maxTick(back) + 3);

  // The command ends: `event: end` ends following and the page says so.
  writeFileSync(stop, '');
  const result = await run;
  assert.equal(result.code, 0, result.stderr);
  await page.locator('.badge.tail.ended').waitFor();
  assert.deepEqual(errors, []);
  assert.deepEqual(dialogs, []);
});

/** The visible lines once the scroller has stopped moving and rendered rows. */
async function settledView(page: Page): Promise<string[]> {
  let last = -1;
  for (let i = 0; i < 200; i++) {
    const top = await page.locator('.log-list').evaluate((el) => new Promise<number>((r) => requestAnimationFrame(() => r(el.scrollTop))));
    const lines = await visibleLines(page);
    if (top === last && lines.length > 0) return lines;
    last = top;
  }
  throw new Error('the session view did not settle within 200 frames');
}
