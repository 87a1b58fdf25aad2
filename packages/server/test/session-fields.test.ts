/**
 * session_fields as the writer keeps it (day-index.ts): a (field, value, session) row it knows is
 * committed is not written again, and what a transaction that did not commit wrote is not taken as
 * known. A real SQLite database (in memory) with the day file's tables.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import Database from 'better-sqlite3';
import { packEvents, unpackToColumns } from '../src/batch/columns.ts';
import { ensureDayTables, MAX_KNOWN_FIELDS, prepareDayIndex } from '../src/store/sqlite/day-index.ts';
import { prepareEventInsert, SCHEMA } from '../src/store/sqlite/schema.ts';
import { ev } from './contract/events.ts';
import { liveHeapBytes } from './live-heap.ts';

function dayFile() {
  const db = new Database(':memory:');
  db.exec(SCHEMA);
  ensureDayTables(db, false);
  const day = prepareDayIndex(db);
  const insert = prepareEventInsert(db);
  let ms = 1_780_000_000_000;
  /** One batch in one transaction; `fail` throws after the summaries were written (a rollback). */
  const write = (events: NormalizedEvent[], fail = false) => {
    const c = unpackToColumns(packEvents(events));
    const msCol = new Float64Array(c.n).fill(++ms);
    const seqCol = Float64Array.from({ length: c.n }, (_, i) => i);
    const rows = Array.from({ length: c.n }, (_, i) => i);
    db.transaction(() => {
      const last = insert(c, msCol, seqCol, rows);
      day.apply({ c, ms: msCol, seq: seqCol, from: 0, to: c.n }, undefined, last - c.n + 1);
      if (fail) throw new Error('disk full (simulated after the summaries)');
    })();
    day.committed();
  };
  const fields = () =>
    db
      .prepare('SELECT field, value, session FROM session_fields ORDER BY field, value, session')
      .all()
      .map((r: any) => `${r.field}=${r.value}@${r.session}`);
  return { db, write, fields };
}

test('a row of a transaction that failed is written again by the next batch', () => {
  const f = dayFile();
  assert.throws(() => f.write([ev('s1', 'a', { component: 'api', user: 'ann' })], true), /disk full/);
  assert.deepEqual(f.fields(), [], 'rolled back');
  f.write([ev('s1', 'b', { component: 'api', user: 'ann' })]);
  assert.deepEqual(f.fields(), ['component=api@s1', 'user=ann@s1']);
});

test('known rows are not written again; new values, sessions and fields are', () => {
  const f = dayFile();
  f.write([ev('s1', 'a', { component: 'api', level: 'info' })]);
  // Deleted behind the writer's back: a row it knows is not looked up again (the point of it).
  f.db.exec("DELETE FROM session_fields WHERE field = 'component'");
  f.write([ev('s1', 'b', { component: 'api', level: 'warn' }), ev('s2', 'c', { component: 'api' }), ev('s1', 'd', { component: 'web', step: 'build' })]);
  assert.deepEqual(f.fields(), ['component=api@s2', 'component=web@s1', 'level=info@s1', 'level=warn@s1', 'step=build@s1']);
  // A session and value that only join into the same text are different rows.
  f.write([ev('s1x', 'e', { component: 'y' }), ev('s1', 'f', { component: 'xy' })]);
  assert.ok(f.fields().includes('component=y@s1x') && f.fields().includes('component=xy@s1'), f.fields().join(' '));
});

test(`past ${MAX_KNOWN_FIELDS.toLocaleString('en-US')} known rows the set starts over, and rows are looked up again`, () => {
  const f = dayFile();
  const users = (from: number, n: number) => Array.from({ length: n }, (_, i) => ev('s', 'x', { user: `u${from + i}` }));
  f.write([ev('s', 'x', { user: 'first' })]);
  f.db.exec('DELETE FROM session_fields');
  f.write(users(0, MAX_KNOWN_FIELDS)); // over the bound with 'first': it is forgotten
  f.write([ev('s', 'x', { user: 'first' })]);
  assert.equal(f.db.prepare("SELECT count(*) FROM session_fields WHERE value = 'first'").pluck().get(), 1);
});

test("known rows keep no batch's text alive: 400 batches of ~24 KB, each with a new session, hold far less than their 9.6 MB", () => {
  const f = dayFile();
  const batches = 400;
  f.write([ev('warm-up-session', 'x', { component: 'api' })]);
  const before = liveHeapBytes();
  for (let i = 0; i < batches; i++) {
    // Each batch's session and component are slices of its packed text (one chunk of ~24,000
    // characters); the row the writer then knows of is made from them.
    f.write([ev(`session-${i}-of-the-day`, 'x'.repeat(24_000), { component: 'api-gateway' })]);
  }
  const grown = liveHeapBytes() - before;
  assert.equal(f.db.prepare("SELECT count(*) FROM session_fields WHERE field = 'component'").pluck().get(), batches + 1);
  // 400 known rows of ~40 characters are tens of KB; one chunk kept per row would be ~9.6 MB.
  assert.ok(grown < 2_000_000, `the known rows hold ${grown} bytes of heap`);
});
