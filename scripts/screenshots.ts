/**
 * `npm run screenshots` — regenerates docs/screenshots/sessions.png, session.png and health.png:
 * starts the built server on a free port with a throwaway data dir, stores demo sessions through
 * the public API, and photographs the UI in Debian's Chromium (light theme, 1280×800). The health
 * reports need an hour of history, which the API cannot backdate: it is written into the data dir
 * through the server's own store first (demoHistory).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NormalizedEvent } from '@logsrv/protocol';
import { SqliteStore } from '@logsrv/server';
import { launchChromium } from './lib/chromium.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'docs', 'screenshots');

const ESC = '\u001b';
const green = (s: string) => `${ESC}[32m${s}${ESC}[0m`;
const red = (s: string) => `${ESC}[1;31m${s}${ESC}[0m`;
const yellow = (s: string) => `${ESC}[33m${s}${ESC}[0m`;
const dim = (s: string) => `${ESC}[2m${s}${ESC}[0m`;
const cyan = (s: string) => `${ESC}[36m${s}${ESC}[0m`;

type Ev = Record<string, unknown>;

function build(session: string, failing: boolean): Ev[] {
  const out: Ev[] = [];
  const line = (value: string, key = 'stdout', step = 'test') => out.push({ session, key, value, step, component: 'ci' });
  out.push({ session, key: 'step.start', value: { command: ['npm', 'ci'], cwd: '/work' }, step: 'install', component: 'ci' });
  line(`${dim('npm')} ${cyan('http')} fetch GET 200 https://registry.npmjs.org/react 41ms`, 'stdout', 'install');
  // A progress bar redrawn with \r, sent in pieces as `logsrv run` does: one line on the page.
  for (const p of [10, 45, 80])
    out.push({
      session,
      key: 'stdout',
      value: `\r${cyan('fetching')} ${'█'.repeat(p / 5)}${'░'.repeat(20 - p / 5)} ${p}%`,
      step: 'install',
      component: 'ci',
      attrs: { partial: true },
    });
  line(`\r${cyan('fetching')} ${'█'.repeat(20)} 100%`, 'stdout', 'install');
  line('added 412 packages, and audited 413 packages in 6s', 'stdout', 'install');
  line(`${yellow('npm warn')} deprecated inflight@1.0.6: This module is not supported`, 'stderr', 'install');
  out.push({ session, key: 'step.exit', value: { code: 0, signal: null, durationMs: 6120, final: false }, step: 'install', component: 'ci' });
  out.push({ session, key: 'step.start', value: { command: ['npm', 'test'], cwd: '/work' }, step: 'test', component: 'ci' });
  line('> app@2.4.0 test');
  line('> node --test');
  for (let i = 1; i <= 18; i++) {
    const name = ['parses config', 'rejects bad input', 'retries on 503', 'streams NDJSON', 'keeps order', 'handles UTF-8 split'][i % 6];
    if (failing && i === 14) {
      line(`${red('✗')} ${name} #${i} ${dim('(12ms)')}`);
      line(`  ${red('AssertionError')}: expected 200, got 503 (Retry-After: 1)`, 'stderr');
      line(`      at test/http.test.ts:${40 + i}:7`, 'stderr');
    } else line(`${green('✓')} ${name} #${i} ${dim(`(${(i * 7) % 40}ms)`)}`);
  }
  line('# tests 18');
  line(`# pass ${failing ? 17 : 18}`);
  out.push({ session, key: 'coverage', value: { lines: 91.4, branches: 84.2 }, step: 'test', component: 'ci' });
  out.push({ session, key: 'status', value: failing ? 'failed' : 'passed', component: 'ci' });
  out.push({ session, key: 'step.exit', value: { code: failing ? 1 : 0, signal: null, durationMs: 2380, final: true }, step: 'test', component: 'ci' });
  return out;
}

/**
 * The last hour of a small shop's services, a minute at a time: checkout's `api.latency` (ms)
 * slows down and payments fail more often from 25 to 15 minutes ago.
 */
async function demoHistory(dataDir: string): Promise<void> {
  const store = new SqliteStore({ dataDir, readerThreads: 1, synchronous: 'normal' });
  let seed = 7;
  const rand = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const now = Date.now();
  const ev = (component: string, level: string, key: string, value: unknown): NormalizedEvent => ({
    session: `${component}-1`,
    key,
    value: typeof value === 'string' ? value : JSON.stringify(value),
    vjson: typeof value === 'string' ? 0 : 1,
    ts: null,
    component,
    user: null,
    terminal: null,
    step: null,
    level,
    attrs: null,
    producer: null,
    pseq: null,
  });
  try {
    for (let m = 60; m >= 2; m--) {
      const start = Math.floor((now - m * 60_000) / 60_000) * 60_000;
      const incident = m <= 25 && m >= 15;
      const events: NormalizedEvent[] = [];
      // Traffic rises and falls over the hour.
      const n = Math.round(200 + 80 * Math.sin(m / 9) + rand() * 40);
      for (let i = 0; i < n; i++) {
        const component = ['checkout', 'checkout', 'payments', 'search', 'search', 'auth'][i % 6] as string;
        const errorP = component === 'payments' && incident ? 0.22 : 0.015;
        const level = rand() < errorP ? 'error' : 'info';
        if (component === 'checkout') {
          const slow = incident ? 2.2 : 1;
          const ms = Math.round(Math.exp(3.4 + 0.55 * Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand())) * slow * 10) / 10;
          events.push(ev(component, level, 'api.latency', { value: ms, route: '/cart' }));
        } else if (component === 'search') events.push(ev(component, level, 'search.hits', Math.floor(rand() * 60)));
        else events.push(ev(component, level, component === 'payments' ? 'payment' : 'login', level === 'error' ? 'declined' : 'ok'));
      }
      const ms = Float64Array.from(events, (_e, i) => start + Math.floor((i * 59_000) / events.length));
      const seq = Float64Array.from(events, (_e, i) => i);
      await store.append({ events, ms, seq });
    }
  } finally {
    await store.close();
  }
}

/** The built server on a free port over `data`; resolves with its URL and a stop function. */
async function serve(data: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = spawn(
    process.execPath,
    [join(ROOT, 'bin/logsrv'), 'serve', '--http', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--data', data, '--log-level', 'warn'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const stop = async () => {
    if (server.exitCode !== null) return;
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      server.stderr?.setEncoding('utf8').on('data', (s: string) => {
        err += s;
        const m = /listening on (http:\/\/\S+)/.exec(err);
        if (m?.[1]) resolve(m[1]);
      });
      server.once('exit', (code) => reject(new Error(`server exited (${code}):\n${err}`)));
    });
    return { url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const data = mkdtempSync(join(tmpdir(), 'logsrv-shots-'));
  // The health reports' hour of history goes to a server of its own, so the sessions shots stay as they were.
  const healthData = mkdtempSync(join(tmpdir(), 'logsrv-shots-health-'));
  await demoHistory(healthData);
  const { url, stop } = await serve(data);
  const health = await serve(healthData).catch(async (err) => {
    await stop();
    throw err;
  });
  try {
    const post = async (events: Ev[]) => {
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: `${events.map((e) => JSON.stringify(e)).join('\n')}\n`,
      });
      if (res.status !== 200) throw new Error(`ingest: ${res.status} ${await res.text()}`);
    };
    const register = async (session: string, user: string, terminal: string) => {
      const res = await fetch(`${url}/v1/sessions/${encodeURIComponent(session)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, terminal }),
      });
      if (!res.ok) throw new Error(`register: ${res.status} ${await res.text()}`);
    };
    await register('ws-7/api-build', 'ada', 'term-3');
    await post(build('ws-7/api-build', false));
    await register('ws-9/web-tests', 'grace', 'term-8');
    await post(build('ws-9/web-tests', true));
    await post([
      { session: 'checkout-svc-1', key: 'api.latency', value: 42, component: 'checkout', level: 'info' },
      { session: 'checkout-svc-1', key: 'cart.items', value: 3, component: 'checkout' },
      { session: 'checkout-svc-1', key: 'payment', value: { provider: 'card', ok: false }, component: 'payments', level: 'error' },
      { session: 'checkout-svc-1', key: 'status', value: 'running', component: 'checkout' },
    ]);
    await post(build('release-2026.11', false));

    mkdirSync(OUT, { recursive: true });
    const { context, close } = await launchChromium({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${url}/`);
      await page.getByRole('link', { name: 'ws-9/web-tests' }).waitFor();
      await page.screenshot({ path: join(OUT, 'sessions.png') });
      await page.goto(`${url}/s/${encodeURIComponent('ws-9/web-tests')}`);
      await page.locator('.badge.tail.ended').waitFor();
      await page.getByLabel('Search this session').fill('"expected 200"');
      await page.getByLabel('Search this session').press('Enter');
      await page.locator('.line.current').waitFor();
      await page.screenshot({ path: join(OUT, 'session.png') });
      await page.goto(`${health.url}/health`);
      await page.getByLabel('key to chart').selectOption('api.latency');
      await page.locator('.health-reports .chart canvas').nth(2).waitFor();
      await page.locator('.key-figures dd[data-figure="count"]').waitFor();
      await page.waitForTimeout(500);
      await page.locator('.health-reports').screenshot({ path: join(OUT, 'health.png') });
    } finally {
      await close();
    }
    process.stdout.write(`wrote sessions.png, session.png and health.png in ${OUT}\n`);
  } finally {
    await Promise.all([stop(), health.stop()]);
    rmSync(data, { recursive: true, force: true });
    rmSync(healthData, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
