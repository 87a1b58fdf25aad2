/**
 * Browser helpers for the web UI tests: Debian's Chromium driven by playwright-core (never a
 * downloaded browser). Without Chromium the tests fail under CI=true and skip otherwise, saying why.
 *
 * Ownership: the browser and its fresh user-data dir are closed/removed in the test's `after` hook.
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../../scripts/lib/chromium.ts';

export { CHROMIUM } from '../../scripts/lib/chromium.ts';

/** Why browser tests cannot run here, or null when they can. Throws under CI, where they must run. */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true requires the browser tests to run`);
  return reason;
}

/** A fresh persistent context (its own user-data dir) at the given viewport. */
export async function openBrowser(t: Pick<TestContext, 'after'>, viewport = { width: 1200, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
  const { context, close } = await launchChromium({ viewport, acceptDownloads: true, colorScheme: 'light' });
  t.after(close);
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  return { context, page };
}

/** Texts of the log rows inside the visible part of the terminal's scroller, top to bottom. */
export function visibleLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const scroller = document.querySelector('.log-list') as HTMLElement | null;
    if (!scroller) return [];
    const box = scroller.getBoundingClientRect();
    const out: string[] = [];
    for (const el of scroller.querySelectorAll<HTMLElement>('.line')) {
      const r = el.getBoundingClientRect();
      if (r.bottom > box.top + 1 && r.top < box.bottom - 1) out.push((el.querySelector('.text')?.textContent ?? el.textContent ?? '').trim());
    }
    return out;
  });
}

/** Waits until `pred` holds for the visible lines; fails with the last ones seen. */
export async function waitVisible(page: Page, what: string, pred: (lines: string[]) => boolean, timeoutMs = 15_000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  let lines: string[] = [];
  for (;;) {
    lines = await visibleLines(page);
    if (pred(lines)) return lines;
    if (Date.now() > end) {
      const state = await page.evaluate(() => {
        const el = document.querySelector('.log-list') as HTMLElement | null;
        const badges = [...document.querySelectorAll('.badge')].map((b) => `${b.className}: ${b.textContent}`);
        return {
          scroll: el ? [el.scrollTop, el.scrollHeight, el.clientHeight] : null,
          badges,
          lines: document.querySelectorAll('.line').length,
          status: document.querySelector('[role=status]')?.textContent ?? null,
          follow: document.querySelector('.terminal [aria-live]')?.textContent ?? null,
          jump: document.querySelector('.jump-live') !== null,
        };
      });
      throw new Error(`timed out waiting for ${what}; page ${JSON.stringify(state)}; visible lines:\n${lines.join('\n')}`);
    }
    await page.waitForTimeout(50);
  }
}

/** Polls an async condition (no fixed sleeps as assertions). */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
