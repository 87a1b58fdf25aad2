/**
 * PostgreSQL report rollups beyond the Store contract: a day archived leaves with its rollups and
 * a restored day gets them back (rebuilt from its rows); a database from schema 1 (no rollups) gets
 * them built at open. Checked against a brute-force count over the same events.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Store } from '@logsrv/server';
import { PostgresStore, quantiles } from '@logsrv/server';
import postgres from 'postgres';
import { REPORT_T0, reportEvents } from './contract/events.ts';
import type { RawEvent, Win } from './contract/report-brute.ts';
import { assertQuantile, bruteComponents, bruteKeys, bruteStats, inWindow } from './contract/report-brute.ts';
import { tempDatabase } from './pg-helpers.ts';

const WIN: Win = { fromMs: REPORT_T0 - 3_600_000, toMs: REPORT_T0 + 3_600_000 };

async function check(st: Store, raw: RawEvent[], label: string): Promise<void> {
  const sub = inWindow(raw, WIN);
  const got = new Map<string | null, { events: number; levels: Record<string, number> }>();
  for (const r of await st.reportLevels(WIN)) {
    const c = got.get(r.component) ?? { events: 0, levels: {} };
    got.set(r.component, c);
    c.events += r.events;
    if (r.level !== null) c.levels[r.level] = (c.levels[r.level] ?? 0) + r.events;
  }
  assert.deepEqual(got, bruteComponents(sub), `levels ${label}`);
  assert.deepEqual(await st.reportKeys(WIN, 10), bruteKeys(sub), `keys ${label}`);
  const minutes = await st.reportKeyMinutes(WIN, 'api.latency');
  const b = bruteStats(sub, 'api.latency');
  assert.equal(
    minutes.reduce((n, m) => n + m.n, 0),
    b.count,
    `count ${label}`,
  );
  const all: Record<string, number> = {};
  for (const m of minutes) for (const k in m.buckets) all[k] = (all[k] ?? 0) + (m.buckets[k] as number);
  const [p95] = quantiles(all, [0.95], b.min as number, b.max as number);
  assertQuantile(p95 ?? null, b.sorted, 0.95, label);
}

test('PostgreSQL: archive takes a day with its rollups, restore and the schema-1 migration rebuild them', async (t) => {
  const db = await tempDatabase('logsrv_reports');
  if (!db) {
    if (process.env.CI === 'true') assert.fail('PostgreSQL is not reachable at 127.0.0.1:5432');
    t.skip('PostgreSQL is not reachable at 127.0.0.1:5432');
    return;
  }
  const archiveDir = mkdtempSync(join(tmpdir(), 'logsrv-pg-reports-'));
  let st = await PostgresStore.open(db.url, { archiveDir, clock: () => REPORT_T0 });
  try {
    const { raw, batches } = reportEvents();
    for (const b of batches) await st.append(b);
    await check(st, raw, 'live');

    const [archived] = await st.archive('20270302', '20270302');
    assert.equal(archived?.day, '20270301');
    await check(
      st,
      raw.filter((e) => e.ms >= REPORT_T0),
      'day 1 archived',
    );
    await st.restore(archived?.file as string);
    await check(st, raw, 'day 1 restored');

    // A database written before rollups: empty tables, schema version 1.
    await st.close();
    const admin = postgres(db.url, { onnotice: () => {} });
    await admin`TRUNCATE rollup_levels, rollup_keys, rollup_values`;
    await admin`UPDATE logsrv_schema SET version = 1`;
    st = await PostgresStore.open(db.url, { archiveDir, clock: () => REPORT_T0 });
    const [v] = await admin<{ version: number }[]>`SELECT max(version) AS version FROM logsrv_schema`;
    await admin.end();
    assert.equal(v?.version, 3);
    await check(st, raw, 'rebuilt at open');
  } finally {
    await st.close();
    await db.drop();
    rmSync(archiveDir, { recursive: true, force: true });
  }
});
