/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser), for the browser
 * tests, the `ui-big-session` benchmark and `npm run screenshots`. Flags: headless as root in a
 * sandbox, and no background networking (this machine's closed network refuses it, noisily).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export type LaunchOptions = Omit<NonNullable<Parameters<typeof chromium.launchPersistentContext>[1]>, 'executablePath' | 'args' | 'headless'>;

/** A browser with a fresh user-data dir of its own; `close()` ends it and removes the dir. */
export async function launchChromium(options: LaunchOptions): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(dir, { ...options, executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    return {
      context,
      async close() {
        await context.close().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
