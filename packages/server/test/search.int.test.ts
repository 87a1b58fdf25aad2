/**
 * Search across sessions over real SQLite (SPEC §3): `GET /v1/events` with field filters, time
 * range, `q` and cursor paging across day files, checked against an oracle built from the
 * session read API; `q` syntax edge cases over HTTP; the same answers with the full-text index
 * on and off (`--search-index off` scans with the matcher the live tail uses); `q` on a
 * session's events.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compareIds, parseId } from '@logsrv/protocol';
import type { TestServer } from './helpers.ts';
import { ndjson, post, readAll, rng, startTestServer, until } from './helpers.ts';

const T = { timeout: 60_000 };

async function send(url: string, events: object[]): Promise<void> {
  const r = await post(url, ndjson(events));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.accepted, events.length);
}

/** Every event of a search, page by page; also checks each page's size and `next`. */
async function searchAll(url: string, params: Record<string, string>, path = '/v1/events'): Promise<any[]> {
  const out: any[] = [];
  let after = params.after ?? '';
  const limit = Number(params.limit ?? 1000);
  for (;;) {
    const qs = new URLSearchParams({ ...params, ...(after ? { after } : {}) });
    const res = await fetch(`${url}${path}?${qs}`);
    const text = await res.text();
    assert.equal(res.status, 200, `${path}?${qs}: ${text}`);
    const page = JSON.parse(text) as { events: any[]; next: string | null };
    out.push(...page.events);
    if (!page.next) return out;
    assert.equal(page.events.length, limit, 'a page with a next is full');
    assert.equal(page.next, page.events.at(-1).id);
    after = page.next;
  }
}

async function status(url: string): Promise<{ status: number; code?: string; message?: string }> {
  const res = await fetch(url);
  const body = (await res.json()) as any;
  return { status: res.status, code: body.error?.code, message: body.error?.message };
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'fox', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
const SEPARATORS = [' ', ' ', ', ', '/', ':', ' - ', '.'];

describe('GET /v1/events across sessions and days', () => {
  let srv: TestServer;
  let dataDir: string;
  /** Everything stored, in id order, read back through the session read API. */
  let stored: any[];
  const midnight = Date.UTC(2026, 10, 23);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'logsrv-search-'));
    let now = midnight - 2 * 86_400_000 + 3_600_000;
    // Small index chunks (300 rows), so searches cross chunk boundaries as they do on large days.
    srv = await startTestServer({ searchChunkRows: 300 }, { dataDir, clock: () => now });
    const rand = rng(99);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
    // 100 sessions: s000..s079 are "crowd" sessions with component api, s080..s099 are rare ones
    // with component rare-c — so field filters exercise both plans (candidate sessions, and a walk).
    const sessions = Array.from({ length: 100 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    for (let batch = 0; batch < 60; batch++) {
      if (batch === 20 || batch === 40) now += 86_400_000; // three day files
      now += 1000;
      const events = Array.from({ length: 40 }, () => {
        const session = pick(sessions);
        const crowd = Number(session.slice(1)) < 80;
        const words = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(WORDS));
        let value = '';
        for (const w of words) value += (value ? pick(SEPARATORS) : '') + (rand() < 0.2 ? w.toUpperCase() : w);
        return {
          session,
          key: pick(['stdout', 'stdout', 'stderr', 'status']),
          value: rand() < 0.15 ? { msg: value, n: Math.floor(rand() * 10) } : value,
          component: crowd ? 'api' : 'rare-c',
          level: pick(['info', 'info', 'warn', 'error']),
          ...(rand() < 0.1 ? { user: pick(['u1', 'u2']) } : {}),
          ...(rand() < 0.3 ? { step: pick(['build', 'test']) } : {}),
        };
      });
      await send(srv.url, events);
    }
    assert.equal(readdirSync(dataDir).filter((f) => /^events-\d{8}\.db$/.test(f)).length, 3);
    stored = (await Promise.all(sessions.map((s) => readAll(srv.url, s)))).flat().sort((a, b) => compareIds(parseId(a.id)!, parseId(b.id)!));
    assert.equal(stored.length, 60 * 40);
  });
  after(async () => {
    await srv.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** An oracle independent of the tokenizer: ASCII words of the value's text, lower-cased. */
  const wordsOf = (e: any) => (typeof e.value === 'string' ? e.value : JSON.stringify(e.value)).toLowerCase().split(/[^a-z0-9]+/);
  const has = (word: string) => (e: any) => wordsOf(e).includes(word);
  const within = (from: number, to: number) => (e: any) => Date.parse(e.received) >= from && Date.parse(e.received) <= to;
  const day2 = midnight - 86_400_000;

  const cases: [string, Record<string, string>, (e: any) => boolean][] = [
    ['no filter', {}, () => true],
    ['one session', { session: 's042' }, (e) => e.session === 's042'],
    ['a component of few sessions (candidate sessions)', { component: 'rare-c' }, (e) => e.component === 'rare-c'],
    ['a component of many sessions (walk)', { component: 'api', level: 'error' }, (e) => e.component === 'api' && e.level === 'error'],
    ['user and level', { user: 'u1', level: 'warn' }, (e) => e.user === 'u1' && e.level === 'warn'],
    ['key and step', { key: 'status', step: 'build' }, (e) => e.key === 'status' && e.step === 'build'],
    ['q word', { q: 'golf' }, has('golf')],
    ['q two words, any case', { q: 'HOTEL india' }, (e) => has('hotel')(e) && has('india')(e)],
    ['q with a field filter', { q: 'kilo', component: 'rare-c' }, (e) => has('kilo')(e) && e.component === 'rare-c'],
    ['q inside a session', { q: 'alpha', session: 's081' }, (e) => has('alpha')(e) && e.session === 's081'],
    ['q in a JSON value', { q: 'msg' }, (e) => typeof e.value === 'object'],
    ['q prefix', { q: 'jul*' }, has('juliet')],
    ['time range (RFC 3339), one day', { from: new Date(day2).toISOString(), to: new Date(midnight - 1).toISOString() }, within(day2, midnight - 1)],
    [
      'time range (epoch ms) across midnight with q',
      { from: String(midnight - 3_600_000 * 24 + 5000), to: String(midnight + 90_000), q: 'echo' },
      (e) => within(midnight - 3_600_000 * 24 + 5000, midnight + 90_000)(e) && has('echo')(e),
    ],
    ['from only', { from: String(midnight) }, within(midnight, Number.MAX_SAFE_INTEGER)],
    ['a word nobody used', { q: 'zulu' }, () => false],
    ['a value nobody has', { user: 'u9' }, () => false],
  ];
  for (const [name, params, want] of cases) {
    test(`${name}: every page size gives the stored sequence`, T, async () => {
      const expected = stored.filter(want);
      for (const limit of ['1', '7', '100', '10000']) {
        if (limit === '1' && expected.length > 400) continue; // a page per event is slow and adds nothing
        const got = await searchAll(srv.url, { ...params, limit });
        assert.deepEqual(
          got.map((e) => e.id),
          expected.map((e) => e.id),
          `limit ${limit}`,
        );
        if (limit === '100') assert.deepEqual(got, expected);
      }
    });
  }

  test('after= resumes exactly, together with from/to', T, async () => {
    const all = await searchAll(srv.url, { q: 'bravo' });
    const mid = all[Math.floor(all.length / 2)];
    const rest = await searchAll(srv.url, { q: 'bravo', after: mid.id });
    assert.deepEqual(rest, all.slice(Math.floor(all.length / 2) + 1));
    // A cursor before `from` is moved up to it; one after it wins.
    const from = String(midnight);
    const fromOnly = await searchAll(srv.url, { q: 'bravo', from });
    assert.deepEqual(await searchAll(srv.url, { q: 'bravo', from, after: all[0].id }), fromOnly);
    assert.deepEqual(await searchAll(srv.url, { q: 'bravo', from: String(midnight - 3 * 86_400_000), after: mid.id }), rest);
  });

  test('formats and parameter errors', T, async () => {
    const nd = await fetch(`${srv.url}/v1/events?session=s001&format=ndjson&limit=3`);
    assert.match(nd.headers.get('content-type') ?? '', /application\/x-ndjson/);
    assert.equal((await nd.text()).trim().split('\n').length, 3);
    assert.ok(nd.headers.get('logsrv-next'));
    const text = await (await fetch(`${srv.url}/v1/events?session=s001&format=text&limit=2`)).text();
    assert.equal(text.split('\n').length, 3);
    for (const [qs, code, message] of [
      ['sesion=s1', 'LOGSRV_ERR_BAD_PARAM', /unknown parameter 'sesion'/],
      ['from=2026-13-01T00:00:00Z', 'LOGSRV_ERR_BAD_PARAM', /RFC 3339/],
      ['from=yesterday', 'LOGSRV_ERR_BAD_PARAM', /'from' must be/],
      [`from=${midnight}&to=${midnight - 1}`, 'LOGSRV_ERR_BAD_PARAM', /is after 'to'/],
      ['after=1', 'LOGSRV_ERR_BAD_CURSOR', /not an event id/],
      ['limit=10001', 'LOGSRV_ERR_BAD_PARAM', /limit/],
      ['key=', 'LOGSRV_ERR_BAD_PARAM', /'key' is empty/],
      ['format=html', 'LOGSRV_ERR_BAD_PARAM', /format/],
      ['q=%22%22', 'LOGSRV_ERR_BAD_PARAM', /no word to search for/],
      [`q=${'x'.repeat(1025)}`, 'LOGSRV_ERR_BAD_PARAM', /limit 1024/],
    ] as const) {
      const r = await status(`${srv.url}/v1/events?${qs}`);
      assert.equal(r.status, 400, qs);
      assert.equal(r.code, code, qs);
      assert.match(r.message ?? '', message, qs);
    }
  });
});

/** Text with punctuation, quotes, unicode and JSON, for syntax edge cases. */
const TRICKY = [
  'GET /items/4242 200',
  'items 4242 again',
  'items/42420 is another item',
  '4242 items reversed',
  'key "a:b" set',
  'a b adjacent',
  'b a swapped',
  'Café au lait',
  'CAFE in capitals',
  'naïve résumé',
  '日本語のログ',
  'emoji 😀 party',
  'quote " inside and \' too',
  'tab\tseparated\tvalues',
  'failed with FAILURE',
  'exit code 3',
  'C:\\Windows\\path',
  'NEAR(x y) AND col:value',
  '\u001b[1;31mAssertionError\u001b[0m: expected \u001b[32m200\u001b[39m',
  'progress\u001b[2K\u001b[1G done \u001b]0;title\u0007ok',
];

describe('q syntax over HTTP, with the index on and off', () => {
  let on: TestServer;
  let off: TestServer;
  before(async () => {
    // Same clock for both: the ids agree, so whole answers can be compared.
    const t = Date.UTC(2026, 10, 22, 8);
    on = await startTestServer({ searchChunkRows: 16 }, { clock: () => t });
    off = await startTestServer({ searchIndex: 'off' }, { clock: () => t });
    const events = [
      ...TRICKY.map((value, i) => ({ session: i % 2 ? 'odd' : 'even', key: 'stdout', value })),
      { session: 'odd', key: 'json', value: { path: '/items/4242', note: 'Café' } },
    ];
    await send(on.url, events);
    await send(off.url, events);
    // Every case through the index, not the scan of rows past its watermark.
    await until('the index to catch up', async () => (await (await fetch(`${on.url}/healthz`)).json()).searchIndexLagRows === 0, 20_000);
  });
  after(async () => {
    await on.dispose();
    await off.dispose();
  });

  const cases: [string, string[]][] = [
    ['items/4242', ['GET /items/4242 200', 'items 4242 again', '{"path":"/items/4242","note":"Café"}']],
    ['"items/4242"', ['GET /items/4242 200', 'items 4242 again', '{"path":"/items/4242","note":"Café"}']],
    ['"a:b"', ['key "a:b" set', 'a b adjacent']],
    ['a:b', ['key "a:b" set', 'a b adjacent']],
    ['cafe', ['Café au lait', 'CAFE in capitals', '{"path":"/items/4242","note":"Café"}']],
    ['CAFÉ', ['Café au lait', 'CAFE in capitals', '{"path":"/items/4242","note":"Café"}']],
    ['resume naive', ['naïve résumé']],
    ['日本語のログ', ['日本語のログ']],
    ['emoji party', ['emoji 😀 party']],
    ['"quote inside"', ['quote " inside and \' too']],
    ['"unbalanced quote', []],
    ['"inside and', ['quote " inside and \' too']],
    ['fail*', ['failed with FAILURE']],
    ['fail', []],
    ['"exit code"', ['exit code 3']],
    ['"code exit"', []],
    ['c:\\windows\\path', ['C:\\Windows\\path']],
    ['NEAR(x y)', ['NEAR(x y) AND col:value']],
    ['col:value AND', ['NEAR(x y) AND col:value']],
    ['tab separated', ['tab\tseparated\tvalues']],
    // Colour codes are not part of words: text is searched as the terminal shows it.
    ['AssertionError', ['\u001b[1;31mAssertionError\u001b[0m: expected \u001b[32m200\u001b[39m']],
    ['"AssertionError expected 200"', ['\u001b[1;31mAssertionError\u001b[0m: expected \u001b[32m200\u001b[39m']],
    ['31m', []],
    ['"progress done" ok', ['progress\u001b[2K\u001b[1G done \u001b]0;title\u0007ok']],
    ['title', []],
  ];
  const shown = (e: any) => (typeof e.value === 'string' ? e.value : JSON.stringify(e.value));
  for (const [q, want] of cases) {
    test(`q=${JSON.stringify(q)}`, T, async () => {
      const a = await searchAll(on.url, { q });
      const b = await searchAll(off.url, { q });
      assert.deepEqual(a.map(shown), want, 'index on');
      assert.deepEqual(b, a, 'index off (scan) gives the same events');
      // The session read API answers the same, per session.
      for (const s of ['odd', 'even']) {
        const per = await searchAll(on.url, { q }, `/v1/sessions/${s}/events`);
        assert.deepEqual(
          per,
          a.filter((e) => e.session === s),
        );
      }
    });
  }

  test('empty and blank q mean no text filter; q without a word is refused', T, async () => {
    const all = await searchAll(on.url, {});
    assert.deepEqual(await searchAll(on.url, { q: '' }), all);
    assert.deepEqual(await searchAll(on.url, { q: '   ' }), all);
    assert.deepEqual(await searchAll(on.url, { q: '' }, '/v1/sessions/odd/events'), await readAll(on.url, 'odd'));
    // Emoji are symbols, not words, to the tokenizer: like punctuation they only separate.
    for (const q of ['""', '/', '-- *', '"  "', '😀']) {
      for (const path of ['/v1/events', '/v1/sessions/odd/events', '/v1/sessions']) {
        const r = await status(`${on.url}${path}?q=${encodeURIComponent(q)}`);
        assert.equal(r.status, 400, `${path} q=${q}`);
        assert.match(r.message ?? '', /no word to search for/);
      }
    }
  });

  test('q on a session with key filter and html paging keeps q in the next link', T, async () => {
    const page = await fetch(`${on.url}/v1/sessions/even/events?q=items&limit=1&format=html`);
    const html = await page.text();
    assert.match(html, /next page/);
    assert.match(html, /q=items/);
  });
});
