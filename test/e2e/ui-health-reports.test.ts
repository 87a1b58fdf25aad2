/**
 * The health page's reports in a real browser: the components table equals a brute-force count of
 * the events sent (events, errors, error rate), the two component charts and the p50/p95/p99 chart
 * are drawn, and the figures of the chosen key match the exact ones (quantiles within 1%).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postNdjson, startServer } from './helpers.ts';
import { browserMissing, openBrowser } from './ui-helpers.ts';

const missing = browserMissing();

test('the health page lists components with error rates and charts a key’s p50/p95/p99', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
  const server = await startServer(t);
  const events: Record<string, unknown>[] = [];
  const latency: number[] = [];
  const want = new Map<string, { events: number; errors: number }>();
  for (let i = 0; i < 400; i++) {
    const component = ['checkout', 'payments', 'search'][i % 3] as string;
    const level = i % 7 === 0 ? 'error' : 'info';
    const w = want.get(component) ?? { events: 0, errors: 0 };
    want.set(component, w);
    w.events++;
    if (level === 'error') w.errors++;
    if (i % 2 === 0) {
      const x = 5 + ((i * 37) % 400) / 3;
      latency.push(x);
      events.push({ session: 'svc', key: 'api.latency', value: { value: x, route: '/cart' }, component, level });
    } else events.push({ session: 'svc', key: i % 4 === 1 ? 'stdout' : 'cart.items', value: i % 4 === 1 ? `line ${i}` : i % 9, component, level });
  }
  const r = await postNdjson(server.url, events);
  assert.equal(r.status, 200, r.text);

  const { page } = await openBrowser(t, { width: 1200, height: 900 });
  await page.goto(`${server.url}/health`);
  const rows = page.locator('table.components-table tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 3);
  for (const [component, w] of want) {
    const cells = await rows
      .filter({ has: page.getByRole('rowheader', { name: component, exact: true }) })
      .locator('td')
      .allTextContents();
    assert.deepEqual(cells, [w.events.toLocaleString('en-US'), String(w.errors), `${((100 * w.errors) / w.events).toFixed(2)}%`], component);
  }
  // The most frequent key is charted first: api.latency (200 events).
  const keySelect = page.getByLabel('key to chart');
  assert.equal(await keySelect.inputValue(), 'api.latency');
  const figure = (f: string) => page.locator(`.key-figures dd[data-figure="${f}"]`);
  await figure('count').filter({ hasText: /^200$/ }).waitFor();
  const sorted = [...latency].sort((a, b) => a - b);
  const num = async (f: string) => Number(((await figure(f).textContent()) ?? '').replace(/,/g, ''));
  assert.equal(await num('min'), Number((sorted[0] as number).toPrecision(4)));
  assert.equal(await num('max'), Number((sorted[199] as number).toPrecision(4)));
  for (const q of [50, 95, 99]) {
    const exact = sorted[Math.ceil((q / 100) * 200) - 1] as number;
    const got = await num(`p${q}`);
    // Shown with 4 significant digits: the sketch's 1% plus the rounding.
    assert.ok(Math.abs(got - exact) <= 0.01 * exact + 0.0005 * got, `p${q}: ${got} vs exact ${exact}`);
  }
  // Events and error rate per component, and the key's quantiles over time: three charts drawn.
  assert.equal(await page.locator('.health-reports .chart canvas').count(), 3);
  const captions = await page.locator('.health-reports .chart figcaption').allTextContents();
  assert.deepEqual(captions, ['Events per minute, per component', 'Error rate per component (%)', 'api.latency: p50 / p95 / p99 per minute']);

  // Another key: a number per event.
  await keySelect.selectOption('cart.items');
  await figure('count').filter({ hasText: /^100$/ }).waitFor();
  assert.equal(await num('max'), 8);
  // One component's figures: cart.items of payments (i % 4 === 3 and i % 3 === 1).
  await page.getByLabel('component of the key figures').selectOption('payments');
  const payments = events.filter((e) => e.key === 'cart.items' && e.component === 'payments').map((e) => e.value as number);
  await figure('count')
    .filter({ hasText: new RegExp(`^${payments.length}$`) })
    .waitFor();
  assert.equal(await num('max'), Math.max(...payments));
});
