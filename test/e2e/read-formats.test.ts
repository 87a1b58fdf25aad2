/**
 * Reading a session (SPEC §3): `GET /v1/sessions/:s/events` in json, ndjson, text and html,
 * paging with `limit`/`next`, the `key` filter, and precise 400s for bad parameters — all through
 * the spawned program. One server serves every test of this file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page, ServerProcess, StoredEvent } from './helpers.js';
import { compareIds, eventsUrl, json, postNdjson, readAll, readPage, request, startServer } from './helpers.js';

const SESSION = 'formats';
const PAGED = 'paged';
const PAGED_COUNT = 250;
const SCRIPT = '<script>alert(1)</script>';
const ESC = '\u001b';
const ANSI = `${ESC}[31mred${ESC}[0m and ${ESC}[1mbold${ESC}[22m`;

/** What is posted to SESSION, in order. */
const posted = [
  { session: SESSION, key: 'step.start', value: { step: 'build', cmd: 'make' }, step: 'build' },
  { session: SESSION, key: 'stdout', value: 'compiling main.c', step: 'build' },
  { session: SESSION, key: 'stderr', value: SCRIPT, step: 'build' },
  { session: SESSION, key: 'stdout', value: ANSI, step: 'build' },
  { session: SESSION, key: 'stdout', value: `quotes " and ' and & ampersand`, step: 'build' },
  { session: SESSION, key: 'api.latency', value: 42.5, component: 'api' },
  { session: SESSION, key: 'cache.hit', value: true, component: 'api' },
  { session: SESSION, key: `x${SCRIPT}`, value: { html: '<img src=x onerror=alert(2)>' }, attrs: { note: '</div><script>' } },
  { session: SESSION, key: 'stderr', value: 'warning: unused variable', step: 'build' },
  { session: SESSION, key: 'step.exit', value: { code: 0 }, step: 'build' },
];

/** How a value reads in `format=text`: strings as they are, anything else as JSON. */
const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

describe('reading a session through the spawned server', () => {
  let server: ServerProcess;
  let all: StoredEvent[];

  // The server (and its temp dir) live for the whole describe; torn down once at its end.
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  before(async () => {
    server = await startServer({ after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Parameters<typeof startServer>[0]);
    let r = await postNdjson(server.url, posted);
    assert.equal(r.status, 200, r.text);
    assert.equal(json(r).accepted, posted.length);
    const paged = Array.from({ length: PAGED_COUNT }, (_, i) => ({ session: PAGED, key: i % 3 === 0 ? 'stderr' : 'stdout', value: `p${i}` }));
    // Several requests, so paging crosses commits.
    for (let i = 0; i < PAGED_COUNT; i += 60) {
      r = await postNdjson(server.url, paged.slice(i, i + 60));
      assert.equal(r.status, 200, r.text);
    }
    all = (await readPage(server.url, SESSION)).events;
  });

  test('format=json returns the events in the order posted, with increasing ids and next null at the end', async () => {
    const r = await request(eventsUrl(server.url, SESSION, { format: 'json' }));
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const page = json<Page>(r);
    assert.equal(page.next, null);
    assert.deepEqual(
      page.events.map((e) => [e.key, e.value]),
      posted.map((p) => [p.key, p.value]),
    );
    for (let i = 1; i < page.events.length; i++) assert.ok(compareIds((page.events[i - 1] as StoredEvent).id, (page.events[i] as StoredEvent).id) < 0);
    const first = page.events[0] as StoredEvent;
    assert.equal(first.session, SESSION);
    assert.equal(first.step, 'build');
    assert.ok(!Number.isNaN(Date.parse(first.received)), 'received is a timestamp');
    assert.deepEqual((page.events[7] as StoredEvent).attrs, { note: '</div><script>' });
  });

  test('format=ndjson returns the same events, one JSON object per line', async () => {
    const r = await request(eventsUrl(server.url, SESSION, { format: 'ndjson' }));
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/x-ndjson/);
    assert.ok(r.text.endsWith('\n'));
    const lines = r.text.slice(0, -1).split('\n');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      all,
    );
  });

  test('format=text is the output as a terminal showed it: output values verbatim, a named step as a separator, no other events', async () => {
    const r = await request(eventsUrl(server.url, SESSION, { format: 'text' }));
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    const output = posted.filter((p) => p.key === 'stdout' || p.key === 'stderr').map((p) => `${asText(p.value)}\n`);
    assert.equal(r.text, `── step build ──\n${output.join('')}`);
  });

  test('format=text with key= gives the values of that key one per line, others as JSON', async () => {
    const r = await request(eventsUrl(server.url, SESSION, { format: 'text', key: 'api.latency' }));
    assert.equal(r.text, '42.5\n');
  });

  test('format=html escapes every value, key and attribute and strips terminal escapes', async () => {
    const r = await request(eventsUrl(server.url, SESSION, { format: 'html' }));
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    const html = r.text;
    assert.match(html, /^<!doctype html>/i);
    assert.ok(!html.includes(SCRIPT), 'no raw <script> from a value');
    assert.doesNotMatch(html, /<script>alert|<img|<\/div><script>/i, 'no markup from a value, key or attribute');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the stderr line is shown, escaped');
    assert.ok(html.includes('&lt;img src=x onerror=alert(2)&gt;'), 'an object value is shown, escaped');
    assert.ok(html.includes('quotes &quot; and &#39; and &amp; ampersand') || html.includes("quotes &quot; and ' and &amp; ampersand"));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is that no control code reaches the page
    assert.doesNotMatch(html, /[\u0000-\u0008\u000b-\u001f\u007f]/, 'no ESC or other control codes in the page');
    assert.ok(html.includes('red and bold'), 'the text of an ANSI-coloured line survives');
    const plain = posted.map((p) => p.value).filter((v): v is string => typeof v === 'string' && !/[<>&"']/.test(v) && !v.includes(ESC));
    for (const v of plain) assert.ok(html.includes(v), `${v} shown`);
  });

  test('paging with limit and next walks the whole session exactly once', async () => {
    const full = (await readPage(server.url, PAGED, { limit: 1000 })).events;
    assert.equal(full.length, PAGED_COUNT);
    assert.deepEqual(
      full.map((e) => e.value),
      Array.from({ length: PAGED_COUNT }, (_, i) => `p${i}`),
    );
    // 250 = 7*35 + 5, 50 divides it exactly (the last full page must still end with next null), 1 is the extreme.
    for (const limit of [7, 50, 1]) {
      const seen: StoredEvent[] = [];
      let after: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await readPage(server.url, PAGED, { limit, after });
        pages++;
        assert.ok(page.events.length <= limit);
        seen.push(...page.events);
        if (page.next === null) break;
        assert.equal(page.next, page.events.at(-1)?.id, 'next is the id of the last event of the page');
        after = page.next;
      }
      assert.deepEqual(seen, full, `limit=${limit}`);
      assert.equal(pages, Math.ceil(PAGED_COUNT / limit), `limit=${limit}: no empty trailing page`);
    }
  });

  test('after= resumes exactly after the given event', async () => {
    const full = (await readPage(server.url, PAGED, { limit: 1000 })).events;
    const cut = full[99] as StoredEvent;
    const rest = await readAll(server.url, PAGED, { after: cut.id });
    assert.deepEqual(rest, full.slice(100));
    const last = full.at(-1) as StoredEvent;
    assert.deepEqual(await readPage(server.url, PAGED, { after: last.id }), { events: [], next: null });
  });

  test('key= returns only that key, in order, and pages the same way', async () => {
    const full = (await readPage(server.url, PAGED, { limit: 1000 })).events;
    const wanted = full.filter((e) => e.key === 'stderr');
    assert.deepEqual(await readAll(server.url, PAGED, { key: 'stderr', limit: 9 }), wanted);
    const text = await request(eventsUrl(server.url, SESSION, { key: 'stderr', format: 'text' }));
    assert.equal(text.text, `${SCRIPT}\nwarning: unused variable\n`);
    assert.deepEqual((await readPage(server.url, PAGED, { key: 'no.such.key' })).events, []);
  });

  test('a session with no events reads as an empty page', async () => {
    assert.deepEqual(await readPage(server.url, 'never-posted'), { events: [], next: null });
  });

  const badParams: { name: string; params: Record<string, string>; status: number; code: string; names: RegExp }[] = [
    { name: 'after that is not an id', params: { after: 'abc' }, status: 400, code: 'LOGSRV_ERR_BAD_CURSOR', names: /after/ },
    { name: 'after with a trailing part', params: { after: '1-2-3' }, status: 400, code: 'LOGSRV_ERR_BAD_CURSOR', names: /after/ },
    { name: 'limit that is not a number', params: { limit: 'ten' }, status: 400, code: 'LOGSRV_ERR_BAD_PARAM', names: /limit/ },
    { name: 'limit 0', params: { limit: '0' }, status: 400, code: 'LOGSRV_ERR_BAD_PARAM', names: /limit/ },
    { name: 'a negative limit', params: { limit: '-5' }, status: 400, code: 'LOGSRV_ERR_BAD_PARAM', names: /limit/ },
    { name: 'a fractional limit', params: { limit: '2.5' }, status: 400, code: 'LOGSRV_ERR_BAD_PARAM', names: /limit/ },
    { name: 'a huge limit', params: { limit: '100000000' }, status: 400, code: 'LOGSRV_ERR_BAD_PARAM', names: /limit/ },
    { name: 'an unknown format', params: { format: 'xml' }, status: 400, code: 'LOGSRV_ERR_BAD_PARAM', names: /format.*json/ },
  ];
  for (const c of badParams) {
    test(`${c.name} is answered ${c.status} ${c.code}, naming the parameter`, async () => {
      const r = await request(eventsUrl(server.url, SESSION, c.params));
      assert.equal(r.status, c.status, r.text);
      const body = json<{ error: { code: string; message: string } }>(r);
      assert.equal(body.error.code, c.code);
      assert.match(body.error.message, c.names);
    });
  }
});
