/**
 * The Store contract (store/store.ts), run unchanged against every engine: append with the ids
 * a queue gave, read back in id order across day partitions, the tail seam's `(after, until]`
 * bounds, idempotency on ids and on `(producer, seq)`, the session registry and summaries.
 * An engine file calls {@link storeContract} with a factory for an empty store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SketchBuckets, Store } from '@logsrv/server';
import { quantiles } from '@logsrv/server';
import { batch, concat, DAY1_LATE, DAY2_EARLY, ev, REPORT_T0, reportEvents } from './events.ts';
import type { RawEvent, Win } from './report-brute.ts';
import { assertMean, assertQuantile, bruteComponents, bruteKeys, bruteStats, inWindow, unit } from './report-brute.ts';

export interface StoreUnderTest {
  store: Store;
  /** Closes the store and removes what it stored. */
  dispose(): Promise<void>;
}

export function storeContract(engine: string, open: () => Promise<StoreUnderTest | null>): void {
  describe(`Store contract: ${engine}`, () => {
    let s: StoreUnderTest | null = null;
    before(async () => {
      s = await open();
    });
    after(async () => {
      await s?.dispose();
    });
    const store = (t: { skip(msg: string): void }): Store | null => {
      if (!s) t.skip(`${engine} is not available here`);
      return s?.store ?? null;
    };

    test('an empty store has no last id and no events', async (t) => {
      const st = store(t);
      if (!st) return;
      assert.equal(await st.lastId(), null);
      const page = await st.readSession({ session: 'none', after: null, limit: 10 });
      assert.deepEqual(page, { events: [], next: null });
    });

    test('append stores every field under the ids it is given; reads come back in id order', async (t) => {
      const st = store(t);
      if (!st) return;
      const b = batch(
        [
          ev('c-a', 'one', {
            key: 'stdout',
            component: 'api',
            user: 'ada',
            terminal: 't1',
            step: 'build',
            level: 'info',
            attrs: '{"x":1}',
            ts: 1_700_000_000_000,
          }),
          ev('c-b', '{"code":0}', { key: 'step.exit', vjson: 1 }),
          ev('c-a', 'two', { key: 'stderr', level: 'error' }),
        ],
        DAY1_LATE - 5000,
        3,
      );
      const r = await st.append(b);
      assert.deepEqual(r.skipped ?? [], []);
      const a = await st.readSession({ session: 'c-a', after: null, limit: 10 });
      assert.deepEqual(a.events, [
        {
          id: `${DAY1_LATE - 5000}-3`,
          session: 'c-a',
          key: 'stdout',
          value: 'one',
          ts: new Date(1_700_000_000_000).toISOString(),
          received: new Date(DAY1_LATE - 5000).toISOString(),
          component: 'api',
          user: 'ada',
          terminal: 't1',
          step: 'build',
          level: 'info',
          attrs: { x: 1 },
        },
        {
          id: `${DAY1_LATE - 5000}-5`,
          session: 'c-a',
          key: 'stderr',
          value: 'two',
          ts: new Date(DAY1_LATE - 5000).toISOString(),
          received: new Date(DAY1_LATE - 5000).toISOString(),
          level: 'error',
        },
      ]);
      const other = await st.readSession({ session: 'c-b', after: null, limit: 10 });
      assert.deepEqual(
        other.events.map((e) => [e.id, e.value]),
        [[`${DAY1_LATE - 5000}-4`, { code: 0 }]],
      );
      assert.deepEqual(await st.lastId(), { ms: DAY1_LATE - 5000, seq: 5 });
    });

    test('a batch across midnight is stored in both days and read as one sequence, paged exactly', async (t) => {
      const st = store(t);
      if (!st) return;
      const late = batch([ev('c-mid', 'l0'), ev('c-mid', 'l1'), ev('c-mid', 'l2')], DAY1_LATE);
      const early = batch([ev('c-mid', 'e0'), ev('c-mid', 'e1')], DAY2_EARLY);
      await st.append(concat(late, early));
      const values: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      for (;;) {
        const [ms, seq] = cursor ? cursor.split('-').map(Number) : [0, 0];
        const page = await st.readSession({ session: 'c-mid', after: cursor ? { ms: ms as number, seq: seq as number } : null, limit: 2 });
        values.push(...page.events.map((e) => e.value as string));
        pages++;
        if (page.next === null) break;
        cursor = page.next;
      }
      assert.deepEqual(values, ['l0', 'l1', 'l2', 'e0', 'e1']);
      assert.ok(pages >= 3, `limit 2 over 5 events takes at least 3 pages, took ${pages}`);
      const back = await st.readSession({ session: 'c-mid', after: null, before: { ms: DAY2_EARLY, seq: 1 }, limit: 2 });
      assert.deepEqual(
        back.events.map((e) => e.value),
        ['l2', 'e0'],
      );
    });

    test('readEvents honours (after, until]: the seam a live tail joins at', async (t) => {
      const st = store(t);
      if (!st) return;
      const ms = DAY2_EARLY + 10_000;
      await st.append(batch([ev('c-seam', 's0'), ev('c-seam', 's1'), ev('c-seam', 's2'), ev('c-seam', 's3')], ms));
      const page = await st.readEvents({ session: 'c-seam', after: { ms, seq: 0 }, until: { ms, seq: 2 }, limit: 10 });
      assert.deepEqual(
        page.events.map((e) => e.value),
        ['s1', 's2'],
      );
      assert.equal(page.next, null);
    });

    test('appending the same batch twice stores it once (a redelivered batch); the second append lists every event as skipped', async (t) => {
      const st = store(t);
      if (!st) return;
      const ms = DAY2_EARLY + 20_000;
      const b = batch([ev('c-twice', 'x'), ev('c-twice', 'y')], ms);
      assert.deepEqual((await st.append(b)).skipped ?? [], []);
      assert.deepEqual((await st.append(b)).skipped, [0, 1]);
      const page = await st.readSession({ session: 'c-twice', after: null, limit: 10 });
      assert.deepEqual(
        page.events.map((e) => e.value),
        ['x', 'y'],
      );
    });

    test('a (producer, seq) already committed is skipped, within a batch and across batches', async (t) => {
      const st = store(t);
      if (!st) return;
      const ms = DAY2_EARLY + 30_000;
      const p = (v: string, pseq: number) => ev('c-idem', v, { producer: 'agent-1', pseq });
      const r1 = await st.append(batch([p('a', 1), p('a-again', 1), p('b', 2)], ms));
      assert.deepEqual(r1.skipped, [1]);
      const r2 = await st.append(batch([p('b-retry', 2), p('c', 3)], ms, 3));
      assert.deepEqual(r2.skipped, [0]);
      const page = await st.readSession({ session: 'c-idem', after: null, limit: 10 });
      assert.deepEqual(
        page.events.map((e) => [e.value, e.producer, e.seq]),
        [
          ['a', 'agent-1', 1],
          ['b', 'agent-1', 2],
          ['c', 'agent-1', 3],
        ],
      );
    });

    test('sessionEnd finds the end event within (after, until]', async (t) => {
      const st = store(t);
      if (!st) return;
      const ms = DAY2_EARLY + 40_000;
      await st.append(batch([ev('c-end', 'work'), ev('c-end', '{"final":true,"code":0}', { key: 'step.exit', vjson: 1 })], ms));
      const end = await st.sessionEnd('c-end', null, { ms, seq: 1 });
      assert.equal(end.first, `${ms}-1`);
      // A cursor already past the end: no end event after it, but the session ended at it.
      const past = await st.sessionEnd('c-end', { ms, seq: 1 }, { ms, seq: 1 });
      assert.deepEqual(past, { first: null, endedAt: `${ms}-1` });
      const before = await st.sessionEnd('c-end', null, { ms, seq: 0 });
      assert.deepEqual(before, { first: null, endedAt: null });
    });

    test('filters and full-text search select the same events as a scan would', async (t) => {
      const st = store(t);
      if (!st) return;
      const ms = DAY2_EARLY + 50_000;
      await st.append(
        batch(
          [
            ev('c-q1', 'connection timeout after 30s', { component: 'db' }),
            ev('c-q2', 'all good', { component: 'db' }),
            ev('c-q2', 'request timeout on /items/4242', { component: 'api', level: 'error' }),
          ],
          ms,
        ),
      );
      const timeouts = await st.readEvents({ after: { ms: ms - 1, seq: 0 }, until: null, limit: 10, q: 'timeout' });
      assert.deepEqual(
        timeouts.events.map((e) => e.session),
        ['c-q1', 'c-q2'],
      );
      const api = await st.readEvents({ after: { ms: ms - 1, seq: 0 }, until: null, limit: 10, q: 'timeout', component: 'api' });
      assert.deepEqual(
        api.events.map((e) => e.value),
        ['request timeout on /items/4242'],
      );
      const path = await st.readEvents({ after: { ms: ms - 1, seq: 0 }, until: null, limit: 10, q: 'items/4242' });
      assert.equal(path.events.length, 1, 'a term with a slash is searched as written, not a syntax error');
      const inSession = await st.readSession({ session: 'c-q2', after: null, limit: 10, q: 'timeout' });
      assert.deepEqual(
        inSession.events.map((e) => e.level),
        ['error'],
      );
    });

    test('registrations persist and give each user and terminal its current session', async (t) => {
      const st = store(t);
      if (!st) return;
      const r1 = await st.register('c-reg-1', { user: 'grace', terminal: 'tty9' }, DAY2_EARLY);
      assert.equal(r1.created, true);
      assert.equal(r1.registration.user, 'grace');
      const r2 = await st.register('c-reg-2', { user: 'grace' }, DAY2_EARLY + 1);
      assert.deepEqual(r2.mappings.users, [['grace', 'c-reg-2']]);
      const m = await st.registryMappings();
      assert.deepEqual(
        m.users.filter(([u]) => u === 'grace'),
        [['grace', 'c-reg-2']],
      );
      assert.deepEqual(
        m.terminals.filter(([term]) => term === 'tty9'),
        [['tty9', 'c-reg-1']],
      );
    });

    test('session summaries count events, levels and the latest value of each key', async (t) => {
      const st = store(t);
      if (!st) return;
      const ms = DAY2_EARLY + 60_000;
      await st.append(
        batch(
          [
            ev('c-sum', '"building"', { key: 'status', vjson: 1, user: 'linus' }),
            ev('c-sum', 'oops', { level: 'error' }),
            ev('c-sum', '"done"', { key: 'status', vjson: 1 }),
          ],
          ms,
        ),
      );
      const sum = await st.sessionSummary('c-sum');
      assert.ok(sum);
      assert.equal(sum.count, 3);
      assert.deepEqual(sum.levels, { error: 1 });
      assert.equal(sum.latest.status?.value, 'done');
      assert.equal(sum.firstId, `${ms}-0`);
      assert.equal(sum.lastId, `${ms}-2`);
      assert.deepEqual(sum.users, ['linus']);
      const list = await st.listSessions({ user: 'linus', limit: 10 });
      assert.deepEqual(
        list.sessions.map((x) => x.session),
        ['c-sum'],
      );
    });

    test('reports: rollups equal a brute-force count over the same events, across a day boundary', async (t) => {
      const st = store(t);
      if (!st) return;
      const { raw, batches } = reportEvents();
      for (const b of batches) assert.deepEqual((await st.append(b)).skipped ?? [], []);
      const windows: Win[] = [
        { fromMs: REPORT_T0 - 3_600_000, toMs: REPORT_T0 + 3_600_000 },
        { fromMs: REPORT_T0 + 60_000, toMs: REPORT_T0 + 240_000 },
        { fromMs: REPORT_T0 - 3_600_000, toMs: REPORT_T0 + 3_600_000, component: 'api' },
        { fromMs: REPORT_T0 + 150_000, toMs: REPORT_T0 + 150_000, component: 'db' },
        // The hourly rollups: whole hours, on both sides of midnight.
        { fromMs: REPORT_T0 - 1_800_000, toMs: REPORT_T0 + 1_800_000, hourly: true },
        { fromMs: REPORT_T0 - 1, toMs: REPORT_T0 - 1, component: 'web', hourly: true },
      ];
      for (const w of windows) {
        const what = JSON.stringify(w);
        const sub = inWindow(raw, w);
        assert.ok(w.toMs - w.fromMs === 0 || sub.length > 0, `${what} holds events`);
        // Components and levels.
        const got = new Map<string | null, { events: number; levels: Record<string, number> }>();
        for (const r of await st.reportLevels(w)) {
          let c = got.get(r.component);
          if (!c) {
            c = { events: 0, levels: {} };
            got.set(r.component, c);
          }
          c.events += r.events;
          if (r.level !== null) c.levels[r.level] = (c.levels[r.level] ?? 0) + r.events;
        }
        assert.deepEqual(got, bruteComponents(sub), `levels ${what}`);
        // Keys, most frequent first, limited.
        assert.deepEqual(await st.reportKeys(w, 100), bruteKeys(sub), `keys ${what}`);
        assert.deepEqual(await st.reportKeys(w, 2), bruteKeys(sub).slice(0, 2), `keys limit 2 ${what}`);
        // A key's numeric values: per minute exact, quantiles within the sketch's error.
        for (const key of ['api.latency', 'db.rows', 'stdout']) {
          const minutes = await st.reportKeyMinutes(w, key);
          const byMinute = new Map<number, RawEvent[]>();
          for (const e of sub) {
            const m = Math.floor(e.ms / 60_000 / unit(w)) * unit(w);
            byMinute.set(m, [...(byMinute.get(m) ?? []), e]);
          }
          const want = [...byMinute].filter(([, es]) => bruteStats(es, key).count > 0).sort((a, b) => a[0] - b[0]);
          assert.deepEqual(
            minutes.map((m) => m.minute),
            want.map(([m]) => m),
            `minutes of ${key} ${what}`,
          );
          const all: SketchBuckets = {};
          for (const [i, m] of minutes.entries()) {
            const b = bruteStats((want[i] as [number, RawEvent[]])[1], key);
            assert.equal(m.n, b.count, `count of ${key} in minute ${m.minute}`);
            assert.equal(m.min, b.min);
            assert.equal(m.max, b.max);
            assertMean(m.sum / m.n, b.mean, `${key} minute ${m.minute}`);
            const [p50, p99] = quantiles(m.buckets, [0.5, 0.99], m.min, m.max);
            assertQuantile(p50 ?? null, b.sorted, 0.5, `${key} minute ${m.minute}`);
            assertQuantile(p99 ?? null, b.sorted, 0.99, `${key} minute ${m.minute}`);
            for (const k in m.buckets) all[k] = (all[k] ?? 0) + (m.buckets[k] as number);
          }
          const b = bruteStats(sub, key);
          if (b.count === 0) continue;
          const lo = Math.min(...minutes.map((m) => m.min));
          const hi = Math.max(...minutes.map((m) => m.max));
          const qs = quantiles(all, [0.5, 0.95, 0.99], lo, hi);
          for (const [j, q] of [0.5, 0.95, 0.99].entries()) assertQuantile(qs[j] ?? null, b.sorted, q, `${key} ${what}`);
        }
      }
      // An empty window.
      assert.deepEqual(await st.reportLevels({ fromMs: REPORT_T0 + 86_400_000, toMs: REPORT_T0 + 86_400_000 }), []);
      assert.deepEqual(await st.reportKeyMinutes({ fromMs: REPORT_T0 - 3_600_000, toMs: REPORT_T0 + 3_600_000 }, 'no.such.key'), []);
    });
  });
}
