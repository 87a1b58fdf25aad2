/**
 * Sessions (SPEC §3, §5) over real SQLite: the registry (PUT, validation, persistence across a
 * restart), enrichment at ingest over HTTP and UDP with `unresolved_session` rejected and counted,
 * and `GET /v1/sessions` summaries — latest value per key with history kept, merged across day
 * files, filters, paging — plus the upgrade of day files written before summaries existed.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { TestServer } from './helpers.ts';
import { ndjson, post, readAll, startTestServer } from './helpers.ts';

const T = { timeout: 30_000 };

function put(url: string, session: string, body: unknown, contentType = 'application/json'): Promise<Response> {
  return fetch(`${url}/v1/sessions/${encodeURIComponent(session)}`, {
    method: 'PUT',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  const text = await res.text();
  assert.equal(res.status, 200, `${url}: ${text}`);
  return JSON.parse(text);
}

async function send(url: string, events: object[]): Promise<any> {
  const r = await post(url, ndjson(events));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Every session of a listing, page by page. */
async function listAll(url: string, params: Record<string, string> = {}): Promise<any[]> {
  const out: any[] = [];
  let next: string | null = null;
  do {
    const qs = new URLSearchParams({ ...params, ...(next ? { after: next } : {}) });
    const page = await getJson(`${url}/v1/sessions?${qs}`);
    out.push(...page.sessions);
    next = page.next;
  } while (next);
  return out;
}

describe('session registry', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(() => srv.dispose());

  test('PUT creates (201), replaces (200) and GET /v1/sessions/:session shows the registration', T, async () => {
    const a = await put(srv.url, 'reg-1', { user: 'ann', terminal: 'tty1', attrs: { host: 'h1' } });
    assert.equal(a.status, 201);
    const created = (await a.json()) as any;
    assert.deepEqual({ ...created, updated: undefined }, { session: 'reg-1', user: 'ann', terminal: 'tty1', attrs: { host: 'h1' }, updated: undefined });
    assert.ok(!Number.isNaN(Date.parse(created.updated)));
    // PUT replaces: fields left out are cleared.
    const b = await put(srv.url, 'reg-1', { user: 'ann' });
    assert.equal(b.status, 200);
    assert.deepEqual(((await b.json()) as any).terminal, null);
    const s = await getJson(`${srv.url}/v1/sessions/reg-1`);
    assert.equal(s.count, 0);
    assert.equal(s.first, null);
    assert.deepEqual(s.registered.user, 'ann');
    assert.equal(s.registered.terminal, null);
    const none = await fetch(`${srv.url}/v1/sessions/never-seen`);
    assert.equal(none.status, 404);
    assert.equal(((await none.json()) as any).error.code, 'LOGSRV_ERR_NOT_FOUND');
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['an array', [1], 'application/json', /must be a JSON object/],
    ['a string body', 'user=ann', 'text/plain', /must be a JSON object/],
    ['an unknown field', { user: 'a', session: 'x' }, 'application/json', /unknown field 'session'/],
    ['a non-string user', { user: 5 }, 'application/json', /'user' must be a string/],
    ['an empty terminal', { terminal: '' }, 'application/json', /'terminal' must be a string of 1 to 256/],
    ['a 257-character user', { user: 'u'.repeat(257) }, 'application/json', /257 characters/],
    ['attrs that are not an object', { attrs: [1, 2] }, 'application/json', /'attrs' must be an object, got array/],
    ['attrs over 64 KiB', { attrs: { big: 'x'.repeat(70_000) } }, 'application/json', /limit 65536/],
  ];
  for (const [name, body, type, message] of bad) {
    test(`PUT with ${name} is refused with LOGSRV_ERR_BAD_BODY`, T, async () => {
      const r = await put(srv.url, 'reg-bad', body, type);
      assert.equal(r.status, 400);
      const j = (await r.json()) as any;
      assert.equal(j.error.code, 'LOGSRV_ERR_BAD_BODY');
      assert.match(j.error.message, message);
    });
  }

  test('PUT with invalid JSON or an over-long session is a 400; a 256-character session is fine', T, async () => {
    assert.equal((await put(srv.url, 'reg-x', '{"user":')).status, 400);
    const longest = 'é'.repeat(256);
    assert.equal((await put(srv.url, longest, { user: 'a' })).status, 201);
    assert.equal((await getJson(`${srv.url}/v1/sessions/${encodeURIComponent(longest)}`)).registered.user, 'a');
    const long = await put(srv.url, 's'.repeat(257), { user: 'a' });
    assert.equal(long.status, 400);
    assert.equal(((await long.json()) as any).error.code, 'LOGSRV_ERR_BAD_PARAM');
  });
});

describe('enrichment at ingest', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(() => srv.dispose());

  test('an event without session gets the session registered for its terminal, else its user', T, async () => {
    assert.equal((await put(srv.url, 'enr-a', { user: 'bob', terminal: 'pts/1' })).status, 201);
    assert.equal((await put(srv.url, 'enr-b', { terminal: 'pts/2' })).status, 201);
    const r = await send(srv.url, [
      { user: 'bob', key: 'stdout', value: 'by user' },
      { terminal: 'pts/2', key: 'stdout', value: 'by terminal' },
      // Both given and naming different sessions: the terminal wins.
      { user: 'bob', terminal: 'pts/2', key: 'stdout', value: 'terminal wins' },
      { session: 'explicit', user: 'bob', key: 'stdout', value: 'session given' },
    ]);
    assert.equal(r.accepted, 4);
    assert.deepEqual(
      (await readAll(srv.url, 'enr-a')).map((e) => e.value),
      ['by user'],
    );
    assert.deepEqual(
      (await readAll(srv.url, 'enr-b')).map((e) => e.value),
      ['by terminal', 'terminal wins'],
    );
    const stored = (await readAll(srv.url, 'enr-a'))[0];
    assert.equal(stored.user, 'bob', 'the event keeps its own fields');
    assert.deepEqual(
      (await readAll(srv.url, 'explicit')).map((e) => e.value),
      ['session given'],
    );
  });

  test('unresolvable events are rejected with unresolved_session (HTTP) and counted as drops (UDP)', T, async () => {
    const before = await metric(srv.url, 'logsrv_rejected_total{transport="http",reason="unresolved_session"}');
    const r = await post(
      srv.url,
      ndjson([
        { user: 'nobody', key: 'k', value: 1 },
        { session: 'ok', key: 'k', value: 2 },
        { key: 'k', value: 3 },
      ]),
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.accepted, 1);
    assert.deepEqual(
      r.json.rejected.map((x: any) => [x.index, x.reason]),
      [
        [0, 'unresolved_session'],
        [2, 'unresolved_session'],
      ],
    );
    assert.match(r.json.rejected[0].error, /none is registered/);
    assert.equal(await metric(srv.url, 'logsrv_rejected_total{transport="http",reason="unresolved_session"}'), before + 2);

    assert.equal((await put(srv.url, 'udp-s', { user: 'udp-user' })).status, 201);
    const sock = createSocket('udp4');
    const lines = `${JSON.stringify({ user: 'udp-user', key: 'k', value: 'via udp' })}\n${JSON.stringify({ user: 'ghost', key: 'k', value: 'lost' })}`;
    await new Promise<void>((res, rej) => sock.send(lines, srv.udpPort!, '127.0.0.1', (err) => (err ? rej(err) : res())));
    sock.close();
    for (let i = 0; i < 100 && (await readAll(srv.url, 'udp-s')).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      (await readAll(srv.url, 'udp-s')).map((e) => e.value),
      ['via udp'],
    );
    assert.equal(await metric(srv.url, 'logsrv_dropped_total{transport="udp",reason="unresolved_session"}'), 1);
  });

  test('re-registering moves a user to the new session; when it names another user the previous session is current again', T, async () => {
    await put(srv.url, 'move-1', { user: 'carol' });
    await send(srv.url, [{ user: 'carol', key: 'k', value: 'one' }]);
    await put(srv.url, 'move-2', { user: 'carol' });
    await send(srv.url, [{ user: 'carol', key: 'k', value: 'two' }]);
    await put(srv.url, 'move-2', { user: 'dave' });
    await send(srv.url, [
      { user: 'carol', key: 'k', value: 'three' },
      { user: 'dave', key: 'k', value: 'four' },
    ]);
    assert.deepEqual(
      (await readAll(srv.url, 'move-1')).map((e) => e.value),
      ['one', 'three'],
    );
    assert.deepEqual(
      (await readAll(srv.url, 'move-2')).map((e) => e.value),
      ['two', 'four'],
    );
  });
});

describe('registry persistence', () => {
  test('registrations survive a restart: enrichment and summaries still see them', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-registry-'));
    try {
      let srv = await startTestServer({}, { dataDir });
      await put(srv.url, 'persist', { user: 'erin', terminal: 'tty9', attrs: { ci: true } });
      await put(srv.url, 'persist-old', { user: 'frank' });
      await put(srv.url, 'persist-old', { user: 'gina' });
      await srv.close();
      assert.ok(readdirSync(dataDir).includes('registry.db'));
      srv = await startTestServer({}, { dataDir });
      try {
        const r = await send(srv.url, [
          { terminal: 'tty9', key: 'stdout', value: 'after restart' },
          { user: 'gina', key: 'stdout', value: 'gina' },
        ]);
        assert.equal(r.accepted, 2);
        const rej = await post(srv.url, ndjson([{ user: 'frank', key: 'k', value: 1 }]));
        assert.equal(rej.json.rejected[0].reason, 'unresolved_session', 'a replaced registration stays replaced');
        assert.deepEqual(
          (await readAll(srv.url, 'persist')).map((e) => e.value),
          ['after restart'],
        );
        assert.deepEqual(
          (await readAll(srv.url, 'persist-old')).map((e) => e.value),
          ['gina'],
        );
        const s = await getJson(`${srv.url}/v1/sessions/persist`);
        assert.deepEqual(s.registered.attrs, { ci: true });
        assert.equal(s.count, 1);
      } finally {
        await srv.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('session summaries', () => {
  test('latest value per key is the update, history keeps every version; summaries merge across days', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-summary-'));
    const midnight = Date.UTC(2026, 10, 23);
    let now = midnight - 60_000;
    const srv = await startTestServer({}, { dataDir, clock: () => now });
    try {
      await send(srv.url, [
        { session: 'sum', key: 'status', value: 'queued', level: 'info', component: 'sched', user: 'hal' },
        { session: 'sum', key: 'status', value: 'running', level: 'info', component: 'runner' },
        { session: 'sum', key: 'only.day1', value: { n: 1 }, level: 'warn' },
        { session: 'other', key: 'status', value: 'x' },
      ]);
      now = midnight + 5_000;
      await send(srv.url, [
        { session: 'sum', key: 'status', value: 'done', level: 'error', terminal: 'tty3' },
        { session: 'sum', key: 'stdout', value: 'bye' },
      ]);
      assert.equal(readdirSync(dataDir).filter((f) => /^events-\d{8}\.db$/.test(f)).length, 2);
      const s = await getJson(`${srv.url}/v1/sessions/sum`);
      assert.equal(s.count, 5);
      assert.equal(s.first, new Date(midnight - 60_000).toISOString());
      assert.equal(s.last, new Date(midnight + 5_000).toISOString());
      assert.deepEqual(s.levels, { info: 2, warn: 1, error: 1 });
      assert.deepEqual(s.users, ['hal']);
      assert.deepEqual(s.terminals, ['tty3']);
      assert.deepEqual(s.components, ['runner', 'sched']);
      assert.equal(s.latest.status.value, 'done');
      assert.deepEqual(s.latest['only.day1'].value, { n: 1 });
      assert.equal(s.latest.stdout.value, 'bye');
      const events = await readAll(srv.url, 'sum');
      assert.equal(s.firstId, events[0].id);
      assert.equal(s.lastId, events.at(-1).id);
      assert.equal(s.latest.status.id, events[3].id);
      // History keeps every version of the key.
      assert.deepEqual(
        (await readAll(srv.url, 'sum', { key: 'status' })).map((e) => e.value),
        ['queued', 'running', 'done'],
      );
      // The listing shows the same summary, newest activity first.
      const list = await getJson(`${srv.url}/v1/sessions`);
      assert.deepEqual(
        list.sessions.map((x: any) => x.session),
        ['sum', 'other'],
      );
      assert.deepEqual(list.sessions[0], s);
    } finally {
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('GET /v1/sessions filters by user, terminal, component, time and q, and pages exactly', T, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-list-'));
    const t0 = Date.UTC(2026, 10, 20, 12);
    let now = t0;
    const srv = await startTestServer({}, { dataDir, clock: () => now });
    try {
      // 30 sessions over three days; every third has user u0, the rest u1; a few a component.
      for (let i = 0; i < 30; i++) {
        now = t0 + i * 3 * 3600_000;
        await send(srv.url, [
          {
            session: `L${String(i).padStart(2, '0')}`,
            key: 'stdout',
            value: i === 7 ? 'rare zebra word' : `line ${i}`,
            user: i % 3 === 0 ? 'u0' : 'u1',
            ...(i % 10 === 0 ? { component: 'db' } : {}),
          },
        ]);
      }
      // Registered to u2, with events that name no user: found by the registry.
      await put(srv.url, 'L05', { user: 'u2', terminal: 'T5' });
      // Registered without events: listed (last) only under a user/terminal filter.
      await put(srv.url, 'L99', { user: 'u2' });
      const names = (list: any[]) => list.map((s) => s.session);
      const all = await listAll(srv.url);
      assert.deepEqual(
        names(all),
        Array.from({ length: 30 }, (_, i) => `L${String(29 - i).padStart(2, '0')}`),
      );
      for (const limit of ['1', '4', '7', '29', '30', '1000']) assert.deepEqual(names(await listAll(srv.url, { limit })), names(all), `limit ${limit}`);
      assert.deepEqual(names(await listAll(srv.url, { user: 'u0', limit: '3' })), ['L27', 'L24', 'L21', 'L18', 'L15', 'L12', 'L09', 'L06', 'L03', 'L00']);
      assert.deepEqual(names(await listAll(srv.url, { user: 'u2', limit: '1' })), ['L05', 'L99']);
      assert.deepEqual(names(await listAll(srv.url, { terminal: 'T5' })), ['L05']);
      assert.deepEqual(names(await listAll(srv.url, { component: 'db' })), ['L20', 'L10', 'L00']);
      assert.deepEqual(names(await listAll(srv.url, { component: 'db', user: 'u0' })), ['L00']);
      assert.deepEqual(names(await listAll(srv.url, { q: 'zebra' })), ['L07']);
      assert.deepEqual(names(await listAll(srv.url, { q: 'line', limit: '5' })).length, 29);
      const from = new Date(t0 + 10 * 3 * 3600_000).toISOString();
      const to = String(t0 + 12 * 3 * 3600_000);
      assert.deepEqual(names(await listAll(srv.url, { from, to, limit: '2' })), ['L12', 'L11', 'L10']);
      assert.deepEqual(names(await listAll(srv.url, { from, to, user: 'u0' })), ['L12']);
      assert.deepEqual(names(await listAll(srv.url, { user: 'u2', from })), [], 'no events in range: not listed');
      assert.deepEqual(names(await listAll(srv.url, { user: 'nobody' })), []);
      for (const [qs, code] of [
        ['after=not-a-cursor!', 'LOGSRV_ERR_BAD_CURSOR'],
        ['limit=0', 'LOGSRV_ERR_BAD_PARAM'],
        ['usr=u0', 'LOGSRV_ERR_BAD_PARAM'],
        ['from=yesterday', 'LOGSRV_ERR_BAD_PARAM'],
        [`from=${to}&to=${t0}`, 'LOGSRV_ERR_BAD_PARAM'],
        ['q=%2F%2F', 'LOGSRV_ERR_BAD_PARAM'],
        ['user=', 'LOGSRV_ERR_BAD_PARAM'],
      ]) {
        const r = await fetch(`${srv.url}/v1/sessions?${qs}`);
        assert.equal(r.status, 400, qs);
        assert.equal(((await r.json()) as any).error.code, code, qs);
      }
    } finally {
      await srv.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('every user and component named by the events of a session within one batch finds it, in whatever order they alternate', T, async () => {
    const srv = await startTestServer();
    try {
      // One request, so one transaction: A and B take turns, and a session in between names others.
      await send(srv.url, [
        { session: 'alt', key: 'k', value: '1', user: 'ua', component: 'ca' },
        { session: 'alt', key: 'k', value: '2', user: 'ub', component: 'ca' },
        { session: 'other', key: 'k', value: '3', user: 'uc', component: 'cc' },
        { session: 'alt', key: 'k', value: '4', user: 'ua', component: 'cb' },
        { session: 'alt', key: 'k', value: '5', component: 'ca' },
        { session: 'alt', key: 'k', value: '6', user: 'ud', component: 'cb' },
      ]);
      const names = async (q: Record<string, string>) => (await listAll(srv.url, q)).map((x: any) => x.session);
      for (const user of ['ua', 'ub', 'ud']) assert.deepEqual(await names({ user }), ['alt'], `user ${user}`);
      for (const component of ['ca', 'cb']) assert.deepEqual(await names({ component }), ['alt'], `component ${component}`);
      assert.deepEqual(await names({ user: 'uc' }), ['other']);
      assert.deepEqual(await names({ component: 'cc' }), ['other']);
    } finally {
      await srv.dispose();
    }
  });

  // Layouts of earlier versions: 0 had no summaries and no index; 1 had one unchunked index; 3 no
  // session runs (session-runs.int.test.ts reads sessions through such files).
  const OLD_LAYOUTS: [string, string][] = [
    [
      'version 0 (no summaries, no index)',
      'DROP TABLE session_summary; DROP TABLE session_levels; DROP TABLE session_latest; DROP TABLE session_fields; DROP TABLE session_runs; PRAGMA user_version = 0;',
    ],
    [
      'version 1 (one unchunked index)',
      `DROP TABLE session_runs; CREATE VIRTUAL TABLE events_fts USING fts5 (value, content = 'events', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2');
       INSERT INTO events_fts (events_fts) VALUES ('rebuild'); CREATE VIRTUAL TABLE events_fts_words USING fts5vocab (events_fts, 'row'); PRAGMA user_version = 1;`,
    ],
  ];
  for (const [layout, sql] of OLD_LAYOUTS) {
    test(`day files of ${layout} are brought up to date at start`, T, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'logsrv-upgrade-'));
      try {
        let srv = await startTestServer({}, { dataDir });
        await send(srv.url, [
          { session: 'old', key: 'status', value: 'first', level: 'info', user: 'ivy' },
          ...Array.from({ length: 40 }, (_, i) => ({ session: `filler-${i % 3}`, key: 'stdout', value: `line ${i}` })),
          { session: 'old', key: 'status', value: 'second needle', level: 'info' },
        ]);
        await srv.close();
        for (const f of readdirSync(dataDir).filter((n) => /^events-\d{8}\.db$/.test(n))) {
          const db = new Database(join(dataDir, f));
          db.exec(sql);
          db.close();
          // Those versions had no index file (index-file.ts): a file of theirs gets its index inside.
          for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, f.replace(/\.db$/, `.fts.db${suffix}`)), { force: true });
        }
        // Small chunks: the rebuilt index spans several tables.
        srv = await startTestServer({ searchChunkRows: 16 }, { dataDir });
        try {
          const s = await getJson(`${srv.url}/v1/sessions/old`);
          assert.equal(s.count, 2);
          assert.equal(s.latest.status.value, 'second needle');
          assert.deepEqual(s.users, ['ivy']);
          assert.deepEqual(s.levels, { info: 2 });
          for (const [q, want] of [
            ['needle', ['second needle']],
            ['line', Array.from({ length: 40 }, (_, i) => `line ${i}`)],
          ] as const) {
            const found = await getJson(`${srv.url}/v1/events?q=${q}`);
            assert.deepEqual(
              found.events.map((e: any) => e.value),
              want,
            );
          }
          assert.deepEqual(
            (await getJson(`${srv.url}/v1/sessions?user=ivy`)).sessions.map((x: any) => x.session),
            ['old'],
          );
        } finally {
          await srv.close();
        }
        const db = new Database(join(dataDir, readdirSync(dataDir).find((n) => /^events-\d{8}\.db$/.test(n)) as string), { readonly: true });
        const tables = db
          .prepare(
            "SELECT name FROM sqlite_master WHERE name GLOB 'events_fts*' AND name NOT GLOB '*_data' AND name NOT GLOB '*_idx' AND name NOT GLOB '*_config' AND name NOT GLOB '*_docsize'",
          )
          .pluck()
          .all();
        assert.deepEqual(tables, ['events_fts_1', 'events_fts_17', 'events_fts_33']);
        assert.equal(
          db.pragma('user_version', { simple: true }),
          4,
          'the current day schema (4: with report rollups and session runs, new days indexed in a file of their own)',
        );
        // Session runs built from the events: none here, every session's rows are too few or single
        // (read by index; session-runs.int.test.ts reads migrated files through their runs).
        assert.equal(db.prepare('SELECT count(*) FROM session_runs').pluck().get(), 0);
        db.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  }
});
