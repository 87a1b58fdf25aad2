/**
 * Issue 15 in the web UI (Chromium): what `logsrv run` printed looks as it did in the terminal —
 * a `\r` progress bar and a prompt are one row each, also while they are being drawn live; `--tty`
 * colours; stdout and stderr in the order the agent read them — and the page around it: line
 * numbers in the gutter, the step's name and duration in its header, a job summary at the top,
 * structured event keys that do not break letter by letter at phone width.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { postNdjson } from './helpers.ts';
import { runAgent, startAgent, suiteServer } from './run-helpers.ts';
import { browserMissing, openBrowser, visibleLines, waitVisible } from './ui-helpers.ts';

const missing = browserMissing();

const BUILD =
  'echo compiling; for p in 10 50 100; do printf "\\rprogress %d%%" $p; sleep 0.2; done; echo; printf "Password: "; sleep 0.3; echo ok; echo "warning: w1" >&2';
const TEST = 'for i in 1 2 3; do echo out $i; echo err $i >&2; done; if [ -t 1 ]; then printf "\\033[32mcoloured\\033[0m\\n"; else echo plain; fi; exit 1';

describe('the session page shows the output as the terminal did', { skip: missing ?? false, timeout: 120_000 }, () => {
  const suite = suiteServer();

  test('progress bars and prompts are one row; --tty colours and order; line numbers, step names and durations, job summary', async (t) => {
    const server = suite.server().url;
    const s = 'ui-terminal';
    let r = await runAgent(t, server, suite.spool(), ['--session', s, '--step', 'build', '--keep-open', '--', 'sh', '-c', BUILD]);
    assert.equal(r.code, 0, r.stderr);
    r = await runAgent(t, server, suite.spool(), ['--session', s, '--step', 'test', '--tty', '--', 'sh', '-c', TEST]);
    assert.equal(r.code, 1, r.stderr);

    const { page } = await openBrowser(t);
    await page.goto(`${server}/s/${s}`);
    await page.locator('.badge.tail.ended').waitFor();
    const lines = await waitVisible(page, 'all output', (l) => l.includes('coloured'));
    // Step headers (▾) and exit rows are not output.
    const output = lines.filter((l) => !/[▾▸]/.test(l) && !l.startsWith('build:') && !l.startsWith('test:'));
    assert.deepEqual(output.slice(output.indexOf('compiling')), [
      'compiling',
      'progress 100%',
      'Password: ok',
      'warning: w1',
      // --tty keeps the exact order of both streams.
      'out 1',
      'err 1',
      'out 2',
      'err 2',
      'out 3',
      'err 3',
      'coloured',
    ]);

    // --tty colours reach the page.
    const colour = await page
      .locator('.line.out .text span', { hasText: 'coloured' })
      .evaluate((el) => getComputedStyle(el).color)
      .catch(() => '');
    const plain = await page.locator('.line.out .text', { hasText: 'compiling' }).evaluate((el) => getComputedStyle(el).color);
    assert.ok(colour !== '' && colour !== plain, `coloured text is ${colour}, plain text ${plain}`);

    // Gutter: real line numbers, increasing, starting at the session's first event.
    const gutters = (await page.locator('.line .gutter').allTextContents()).map((g) => g.trim());
    assert.equal(gutters[0], '1');
    const numbers = gutters.map(Number);
    assert.ok(
      numbers.every((n, i) => Number.isInteger(n) && (i === 0 || n > (numbers[i - 1] as number))),
      gutters.join(' '),
    );

    // Step headers: the name (not the argv), the duration, and the tty mark.
    const names = await page.locator('.line.start .step-name').allTextContents();
    assert.deepEqual(names, ['build', 'test']);
    assert.equal(await page.locator('.line.start code').count(), 0, 'no argv in the headers');
    for (const d of await page.locator('.line.start .step-duration').allTextContents()) assert.match(d, /^\d+(\.\d)? (ms|s)$|^\d+ min \d+ s$/);
    assert.equal(await page.locator('.line.start', { hasText: 'test' }).locator('.badge.tty').count(), 1);
    assert.match((await page.locator('.line.start', { hasText: 'test' }).locator('.step-toggle').getAttribute('title')) ?? '', /^sh -c for i in/);

    // The job summary at the top: status and duration.
    assert.equal(await page.locator('.job-summary .job-status').textContent(), 'status: exit 1');
    assert.match((await page.locator('.job-summary .job-duration').textContent()) ?? '', /^took \d+(\.\d)? (ms|s)$/);
  });

  test('a progress bar being drawn is one row that updates live', async (t) => {
    const server = suite.server().url;
    const s = 'ui-progress-live';
    const agent = startAgent(
      t,
      // 20 updates over ~6 s: the browser may start seconds after the command under load (CI saw
      // only the last two of 8 updates 0.4 s apart).
      ['run', '--session', s, '--', 'sh', '-c', 'p=1; while [ $p -le 20 ]; do printf "\\rstep %d/20" $p; p=$((p+1)); sleep 0.3; done; echo; echo done'],
      {
        env: { LOGSRV_SERVER: server, LOGSRV_SPOOL: suite.spool() },
      },
    );
    const { page } = await openBrowser(t);
    await page.goto(`${server}/s/${s}`);
    const seen = new Set<string>();
    for (;;) {
      const l = (await visibleLines(page)).filter((x) => x.startsWith('step '));
      assert.ok(l.length <= 1, `one row for the progress bar, got ${JSON.stringify(l)}`);
      if (l[0]) seen.add(l[0]);
      if (l[0] === 'step 20/20') break;
      await page.waitForTimeout(100);
    }
    assert.ok(seen.size >= 3, `the row was updated live: ${[...seen].join(', ')}`);
    assert.equal((await agent.done).code, 0);
    await waitVisible(page, 'the end', (l) => l.includes('done'));
  });

  test('at phone width, structured event keys do not break letter by letter', async (t) => {
    const server = suite.server().url;
    const s = 'ui-keys';
    const res = await postNdjson(server, [
      { session: s, key: 'stdout', value: 'hello' },
      { session: s, key: 'api.latency.p99.milliseconds', value: 42 },
      { session: s, key: 'deploy.environment.name', value: 'staging-eu-west-1-with-a-long-value-that-wraps' },
    ]);
    assert.equal(res.status, 200, res.text);
    const { page } = await openBrowser(t, { width: 375, height: 800 });
    await page.goto(`${server}/s/${s}`);
    const keys = page.locator('.events-table tbody th code');
    await keys.first().waitFor();
    for (const key of await keys.all()) {
      // One line box per key: it is laid out as a word, not a column of letters.
      const boxes = await key.evaluate((el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return range.getClientRects().length;
      });
      assert.equal(boxes, 1, `${await key.textContent()} spans ${boxes} lines`);
    }
  });
});
