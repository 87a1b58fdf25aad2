/**
 * `ui-big-session`: the web UI on a 1,000,000-line session, in Debian's Chromium (playwright-core),
 * beside the same page on a 1,000-line session measured in the same run (the baseline: what the
 * page costs when size does not matter).
 *
 * - open: from `page.goto('/s/<session>')` until the session's last line is on screen (the page
 *   opens at the end: it reads the summary, finds the last page by seeking backwards through
 *   ids, renders it, and starts the live tail). Target (issue 8): < 2 s at 1M lines.
 * - frames: requestAnimationFrame deltas while the list is scrolled upwards programmatically by
 *   SCROLL_PX per frame for SCROLL_FRAMES frames — which also loads older pages as it goes. p50 and
 *   p99 in ms; 16.7 ms is one frame at 60 Hz.
 *
 * Ingest is NDJSON POSTs of 10,000 lines, two at a time. Knobs (env): BENCH_REPS (page opens per
 * session), UI_BENCH_LINES (default 1,000,000).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../scripts/lib/chromium.ts';
import { type LogsrvProcess, startLogsrv } from './lib/logsrv-process.ts';
import { fmt, measurement, quantile } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure } from './lib/types.ts';

const BIG = Number(process.env.UI_BENCH_LINES ?? 1_000_000);
const SMALL = 1_000;
const BODY_LINES = 10_000;
const SCROLL_FRAMES = 300;
const SCROLL_PX = 120;

function lineText(i: number): string {
  // Some colour, some length variation: what build output looks like.
  if (i % 50 === 0) return `\u001b[32m✓\u001b[0m test ${i} passed in ${i % 997} ms`;
  if (i % 333 === 0) return `\u001b[1;31merror\u001b[0m: something failed at step ${i} (see above)`;
  return `[${String(i).padStart(7, '0')}] compiling src/module-${i % 4096}.ts … ${'x'.repeat(i % 60)}`;
}

/** A line as the page shows it: the colour codes become spans. */
function shownText(i: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences start with ESC.
  return lineText(i).replace(/\u001b\[[0-9;]*m/g, '');
}

async function ingest(url: string, session: string, lines: number, log: (m: string) => void): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    for (;;) {
      const start = next;
      if (start >= lines) return;
      next += BODY_LINES;
      const end = Math.min(lines, start + BODY_LINES);
      let body = '';
      for (let i = start; i < end; i++) body += `${JSON.stringify({ session, key: i % 97 === 0 ? 'stderr' : 'stdout', value: lineText(i) })}\n`;
      const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${text.slice(0, 300)}`);
      const accepted = (JSON.parse(text) as { accepted: number }).accepted;
      if (accepted !== end - start) throw new Error(`ingest accepted ${accepted} of ${end - start}`);
      if (end % 100_000 === 0) log(`  ${session}: ${end.toLocaleString()} lines stored`);
    }
  };
  await Promise.all([worker(), worker()]);
  return (performance.now() - t0) / 1000;
}

/** Opens the session page, returns ms until the last line is visible. */
async function openAtEnd(page: Page, url: string, session: string, lastLine: string): Promise<number> {
  const t0 = performance.now();
  await page.goto(`${url}/s/${encodeURIComponent(session)}`);
  // Source text, like scrollFrames below: the bench is type-checked without the DOM library.
  await page.waitForFunction(
    `(() => {
      const scroller = document.querySelector('.log-list');
      if (!scroller) return false;
      const box = scroller.getBoundingClientRect();
      for (const el of scroller.querySelectorAll('.line .text')) {
        if (el.textContent !== ${JSON.stringify(lastLine)}) continue;
        const r = el.getBoundingClientRect();
        return r.bottom <= box.bottom + 1 && r.top >= box.top - 1;
      }
      return false;
    })()`,
    undefined,
    { polling: 'raf', timeout: 60_000 },
  );
  return performance.now() - t0;
}

/**
 * Scrolls up SCROLL_PX per frame and returns the rAF deltas (ms). Passed as source text: tsx's
 * transform would add helpers (`__name`) to a function that do not exist in the page.
 */
function scrollFrames(page: Page): Promise<number[]> {
  return page.evaluate(`new Promise((resolve) => {
    const scroller = document.querySelector('.log-list');
    const deltas = [];
    let last = 0;
    let n = 0;
    const step = (now) => {
      deltas.push(now - last);
      last = now;
      scroller.scrollTop -= ${SCROLL_PX};
      if (++n < ${SCROLL_FRAMES}) requestAnimationFrame(step);
      else resolve(deltas.slice(1));
    };
    requestAnimationFrame((now) => {
      last = now;
      requestAnimationFrame(step);
    });
  })`) as Promise<number[]>;
}

interface Sample {
  openMs: number[];
  p50: number[];
  p99: number[];
  heapMb: number[];
  rows: number[];
  /** Events held by the page after scrolling (the loaded window). */
  loaded: number[];
}

async function measure(ctx: BenchContext, server: LogsrvProcess, session: string, lines: number): Promise<Sample> {
  const { context: browser, close } = await launchChromium({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const out: Sample = { openMs: [], p50: [], p99: [], heapMb: [], rows: [], loaded: [] };
  try {
    // One warm-up open (browser start, code cache), then the measured ones, each in a fresh page.
    const warm = await browser.newPage();
    await openAtEnd(warm, server.url, session, shownText(lines - 1));
    await warm.close();
    for (let r = 0; r < ctx.reps; r++) {
      const page = await browser.newPage();
      const ms = await openAtEnd(page, server.url, session, shownText(lines - 1));
      const deltas = await scrollFrames(page);
      const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0);
      out.openMs.push(ms);
      out.p50.push(quantile(deltas, 0.5));
      out.p99.push(quantile(deltas, 0.99));
      out.heapMb.push(heap / 1024 / 1024);
      out.rows.push(await page.locator('.line').count());
      const info = (await page.locator('.window-info').count()) > 0 ? await page.locator('.window-info').textContent() : null;
      out.loaded.push(info ? Number((/^([\d,]+) of/.exec(info)?.[1] ?? '0').replaceAll(',', '')) : lines);
      ctx.log(
        `  ${session}: open ${fmt(ms)} ms, frames p50 ${fmt(quantile(deltas, 0.5))} ms p99 ${fmt(quantile(deltas, 0.99))} ms max ${fmt(Math.max(...deltas))} ms`,
      );
      await page.close();
    }
  } finally {
    await close();
  }
  return out;
}

export const uiBigSession: Benchmark = {
  name: 'ui-big-session',
  description: `web UI in Chromium: open a ${BIG.toLocaleString()}-line session at its end and scroll it, vs the same page on ${SMALL.toLocaleString()} lines`,
  async run(ctx: BenchContext): Promise<BenchReport> {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
    if (!existsSync(join(ctx.repoRoot, 'packages/web/dist/index.html'))) throw new Error('the web UI is not built: run `npm run build`');
    const work = mkdtempSync(join(tmpdir(), 'logsrv-bench-ui-'));
    let server: LogsrvProcess | undefined;
    try {
      server = await startLogsrv({ repoRoot: ctx.repoRoot, dataDir: join(work, 'data'), args: ['--log-level', 'warn'] });
      const smallS = await ingest(server.url, 'small', SMALL, ctx.log);
      const bigS = await ingest(server.url, 'big', BIG, ctx.log);
      ctx.log(`  ingested ${BIG.toLocaleString()} lines in ${fmt(bigS)} s (${fmt(BIG / bigS)} lines/s); ${SMALL} in ${fmt(smallS)} s`);
      const small = await measure(ctx, server, 'small', SMALL);
      const big = await measure(ctx, server, 'big', BIG);
      const figures: Figure[] = [];
      const caseName = `${BIG / 1000}k lines`;
      const open = measurement('open at end → last line visible', 'ms', big.openMs);
      const openB = measurement(`same, ${SMALL} lines`, 'ms', small.openMs);
      figures.push({ ...open, case: caseName, baseline: openB, ratio: open.median / openB.median, targets: [{ text: '< 2000 ms', met: open.median < 2000 }] });
      const p50 = measurement('scroll frame time p50', 'ms', big.p50);
      const p50B = measurement(`same, ${SMALL} lines`, 'ms', small.p50);
      figures.push({ ...p50, case: caseName, baseline: p50B, ratio: p50.median / p50B.median, targets: [{ text: '≤ 17 ms (60 fps)', met: p50.median <= 17 }] });
      const p99 = measurement('scroll frame time p99', 'ms', big.p99);
      const p99B = measurement(`same, ${SMALL} lines`, 'ms', small.p99);
      figures.push({ ...p99, case: caseName, baseline: p99B, ratio: p99.median / p99B.median, targets: [{ text: '≤ 50 ms', met: p99.median <= 50 }] });
      const notes = [
        `Ingest: ${BIG.toLocaleString()} lines in ${fmt(bigS)} s over NDJSON POSTs of ${BODY_LINES.toLocaleString()} lines, 2 concurrent.`,
        `Events loaded in the page after scrolling: ${big.loaded.join(' / ')} of ${BIG.toLocaleString()} (history pages fetched while scrolling up).`,
        `Rows in the DOM after scrolling: ${big.rows.join(' / ')} (${BIG / 1000}k) vs ${small.rows.join(' / ')} (1k) — virtualized, independent of session size.`,
        `JS heap after scrolling: ${big.heapMb.map((x) => fmt(x)).join(' / ')} MiB (${BIG / 1000}k) vs ${small.heapMb.map((x) => fmt(x)).join(' / ')} MiB (1k): only a window of the session is loaded.`,
        `Scrolling: ${SCROLL_FRAMES} frames × ${SCROLL_PX} px upwards from the end, loading older pages (1,000 events each) on the way; headless Chromium, --disable-gpu.`,
      ];
      return {
        figures,
        notes,
        params: { lines: BIG, baselineLines: SMALL, bodyLines: BODY_LINES, scrollFrames: SCROLL_FRAMES, scrollPx: SCROLL_PX, viewport: '1280x900' },
      };
    } finally {
      await server?.stop().catch(() => {});
      rmSync(work, { recursive: true, force: true });
    }
  },
};
