/**
 * The history/live seam under load, property-style: concurrent writers commit events to several
 * sessions while tails with random filters open at random moments, drop their connection at
 * random points and resume from a random id they had received. Whatever the timing, each tail's
 * final sequence must equal the stored sequence for its filter exactly — no gap, no duplicate,
 * id order. The stored sequence is read back through the session read API (a different code
 * path from the tail's history read) and filtered here. Some tails filter by full-text `q`.
 *
 * A failing run prints its seed; rerun it with LOGSRV_TAIL_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareIds, parseId } from '@logsrv/protocol';
import { ndjson, post, readAll, rng, startTestServer } from './helpers.ts';
import { freshPgDatabase, redisOrSkip } from './services.ts';
import type { TailConn } from './sse-helpers.ts';
import { openTail } from './sse-helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const byId = (a: { id: string }, b: { id: string }) => compareIds(parseId(a.id)!, parseId(b.id)!);

interface Spec {
  name: string;
  path: string;
  /** Whether a stored event belongs to this tail. */
  want: (e: any) => boolean;
  /** Session tails end by themselves after session.end. */
  ends: boolean;
}

const SESSIONS = ['s0', 's1', 's2', 's3'];
const SPECS: Spec[] = [
  ...SESSIONS.map((s) => ({ name: `session ${s}`, path: `/v1/sessions/${s}/tail`, want: (e: any) => e.session === s, ends: true })),
  { name: 'session s1 stdout', path: '/v1/sessions/s1/tail?key=stdout', want: (e: any) => e.session === 's1' && e.key === 'stdout', ends: true },
  { name: 'all', path: '/v1/tail', want: () => true, ends: false },
  { name: 'component c1', path: '/v1/tail?component=c1', want: (e: any) => e.component === 'c1', ends: false },
  { name: 's2 via /v1/tail, level warn', path: '/v1/tail?session=s2&level=warn', want: (e: any) => e.session === 's2' && e.level === 'warn', ends: true },
  // Filtered by full-text q (values look like "w1 b17 e4"): the hub's matcher on live events, the
  // store's index on history — one meaning, so the seam stays exact.
  { name: 'q w1', path: '/v1/tail?q=w1', want: (e: any) => typeof e.value === 'string' && e.value.startsWith('w1 '), ends: false },
  {
    name: 'session s3, q e1*',
    path: '/v1/sessions/s3/tail?q=e1*',
    want: (e: any) => e.session === 's3' && typeof e.value === 'string' && /^e1\d*$/.test(e.value.split(' ')[2] ?? ''),
    ends: true,
  },
  {
    name: 'component c2, q "W2 B1"*',
    path: `/v1/tail?component=c2&q=${encodeURIComponent('"W2 B1"*')}`,
    want: (e: any) => e.component === 'c2' && typeof e.value === 'string' && /^w2 b1\d* /.test(e.value),
    ends: false,
  },
];

async function runScenario(seed: number, flags: Record<string, unknown> = {}): Promise<void> {
  const rand = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const srv = await startTestServer({ maxBatchEvents: 500, ...flags });
  try {
    let writing = true;
    let sent = 0;
    const writer = async (w: number) => {
      for (let b = 0; writing; b++) {
        const n = 1 + Math.floor(rand() * 60);
        const events = Array.from({ length: n }, (_, i) => ({
          session: pick(SESSIONS),
          key: rand() < 0.7 ? 'stdout' : 'stderr',
          value: `w${w} b${b} e${i}`,
          component: rand() < 0.5 ? 'c1' : 'c2',
          level: rand() < 0.3 ? 'warn' : 'info',
        }));
        const r = await post(srv.url, ndjson(events));
        assert.equal(r.status, 200);
        sent += n;
        await sleep(Math.floor(rand() * 3));
      }
    };

    interface Viewer {
      spec: Spec;
      got: any[];
      reconnects: number;
      ended: boolean;
    }
    let stopGlobal = false;
    const expectedLast = new Map<Spec, string | null>();
    const viewer = async (spec: Spec, startDelay: number): Promise<Viewer> => {
      await sleep(startDelay);
      const v: Viewer = { spec, got: [], reconnects: 0, ended: false };
      let drops = Math.floor(rand() * 4);
      for (;;) {
        const resumeAt = v.got.at(-1)?.id as string | undefined;
        const headers: Record<string, string> = resumeAt ? { 'last-event-id': resumeAt } : {};
        const conn: TailConn = await openTail(srv.url + spec.path, headers);
        assert.equal(conn.status, 200, conn.body);
        const before = v.got.length;
        const target = drops > 0 ? 1 + Math.floor(rand() * 2000) : Number.POSITIVE_INFINITY;
        await conn.waitFor(
          (c) =>
            c.isClosed() || c.events().length >= target || (stopGlobal && !spec.ends && (c.events().at(-1)?.id ?? v.got.at(-1)?.id) === expectedLast.get(spec)),
          40_000,
          `${spec.name} to progress`,
        );
        conn.close();
        v.got.push(...conn.events());
        assert.equal(v.got.length - before, conn.events().length);
        if (conn.frames.at(-1)?.event === 'end') {
          v.ended = true;
          return v;
        }
        if (stopGlobal && !spec.ends && v.got.at(-1)?.id === expectedLast.get(spec)) return v;
        if (drops > 0) {
          drops--;
          v.reconnects++;
          // Resume from a random id this viewer received (or from the start), dropping what follows.
          const keep = rand() < 0.2 ? 0 : Math.floor(rand() * (v.got.length + 1));
          v.got.length = keep;
          await sleep(Math.floor(rand() * 30));
        }
      }
    };

    const writers = Array.from({ length: 4 }, (_, w) => writer(w));
    const viewers: Promise<Viewer>[] = [];
    for (let i = 0; i < 24; i++) viewers.push(viewer(pick(SPECS), Math.floor(rand() * 2500)));
    // Every spec is covered at least once, one of them opened before anything is written.
    for (const spec of SPECS) viewers.push(viewer(spec, spec === SPECS[0] ? 0 : Math.floor(rand() * 2500)));
    await sleep(3000);
    writing = false;
    await Promise.all(writers);
    await post(srv.url, ndjson(SESSIONS.map((s) => ({ session: s, key: 'session.end', value: { sent } }))));

    // The oracle: every session read back page by page, merged in id order.
    const stored = (await Promise.all(SESSIONS.map((s) => readAll(srv.url, s)))).flat().sort(byId);
    for (const spec of SPECS) expectedLast.set(spec, stored.filter(spec.want).at(-1)?.id ?? null);
    stopGlobal = true;
    const results = await Promise.all(viewers);
    assert.ok(sent > 200, `only ${sent} events were written`);
    for (const v of results) {
      const expected = stored.filter(v.spec.want);
      const gotIds = v.got.map((e) => e.id);
      const wantIds = expected.map((e) => e.id);
      if (v.spec.ends) assert.ok(v.ended, `${v.spec.name}: no end`);
      assert.equal(new Set(gotIds).size, gotIds.length, `${v.spec.name}: duplicate ids`);
      assert.deepEqual(gotIds, wantIds, `${v.spec.name} (after ${v.reconnects} resumes): ids differ from the stored sequence`);
      assert.deepEqual(v.got, expected, `${v.spec.name}: events differ from the stored ones`);
    }
  } finally {
    await srv.dispose();
  }
}

describe('tail seam over Redis Streams and PostgreSQL (live feed read back from the streams, history from PostgreSQL)', () => {
  const seeds = process.env.LOGSRV_TAIL_SEED ? [Number(process.env.LOGSRV_TAIL_SEED)] : [3, Date.now() % 100_000];
  for (const seed of seeds) {
    test(`the same property on --queue redis:// --store postgres:// with 4 shards (seed ${seed})`, { timeout: 120_000 }, async (t) => {
      const redis = 'redis://127.0.0.1:6379/13';
      if (!(await redisOrSkip(redis, { flush: true }))) return t.skip('Redis is not available');
      const pg = await freshPgDatabase();
      if (!pg) return t.skip('PostgreSQL is not available');
      try {
        await runScenario(seed, { queue: redis, store: pg.url, queueShards: 4 });
      } finally {
        await pg.drop();
      }
    });
  }
});

describe('tail seam', () => {
  const seeds = process.env.LOGSRV_TAIL_SEED ? [Number(process.env.LOGSRV_TAIL_SEED)] : [1, 2, Date.now() % 100_000];
  for (const seed of seeds) {
    test(`tails opened, dropped and resumed at random ids while 4 writers commit match the store exactly (seed ${seed})`, { timeout: 90_000 }, async () => {
      await runScenario(seed);
    });
  }
});
