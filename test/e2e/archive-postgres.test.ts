/**
 * `logsrv archive` / `logsrv restore` with `--store postgres://…`: whole days leave the database by
 * detaching their partition into a compressed archive, and come back from it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import { PostgresStore } from '@logsrv/server';
import { ev as event } from '../../packages/server/test/contract/events.ts';
import { runCli, tempDir } from './helpers.js';

const ev = (value: string): NormalizedEvent => event('arch-pg', value);

import { freshDatabase } from './services.js';

test('archive --store postgres:// moves days before the date out of the database; restore brings one back, readable as before', {
  timeout: 60_000,
}, async (t) => {
  const url = await freshDatabase(t);
  if (!url) return;
  const data = tempDir(t);
  const day = 86_400_000;
  const old = Math.floor(Date.now() / day) * day - 3 * day + 3_600_000; // 01:00 three days ago
  const store = await PostgresStore.open(url, {});
  try {
    const events = [ev('old-1'), ev('old-2'), ev('old-3')];
    await store.append({ events, ms: new Float64Array(3).fill(old), seq: Float64Array.from([0, 1, 2]) });
    await store.append({ events: [ev('today')], ms: Float64Array.from([Date.now()]), seq: Float64Array.from([0]) });
  } finally {
    await store.close();
  }
  const yyyy = new Date(old).toISOString().slice(0, 10);
  const todayText = new Date().toISOString().slice(0, 10);

  const archived = await runCli(['archive', '--before', todayText, '--store', url, '--data', data], { timeoutMs: 30_000 });
  assert.equal(archived.code, 0, archived.stderr);
  const m = new RegExp(`archived ${yyyy}: 3 events, .* → (\\S+)`).exec(archived.stdout);
  assert.ok(m?.[1], archived.stdout);
  const file = m[1] as string;
  assert.ok(existsSync(file), `${file} exists`);

  const read = async () => {
    const s = await PostgresStore.open(url, { readOnly: true });
    try {
      return (await s.readSession({ session: 'arch-pg', after: null, limit: 10 })).events.map((e) => e.value);
    } finally {
      await s.close();
    }
  };
  assert.deepEqual(await read(), ['today'], 'the archived day is gone from the database; today stays');

  const restored = await runCli(['restore', file, '--store', url, '--data', data], { timeoutMs: 30_000 });
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, new RegExp(`restored ${yyyy}: 3 events`));
  assert.deepEqual(await read(), ['old-1', 'old-2', 'old-3', 'today']);

  const again = await runCli(['restore', '/nonexistent/events-20200101.ndjson.gz', '--store', url, '--data', data], { timeoutMs: 30_000 });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /logsrv restore: .*no such file/);
});
