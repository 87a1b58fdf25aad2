/**
 * `logsrv query` against the spawned program (SPEC §4): the filters of `GET /v1/events`, words as
 * the full-text query, human output by default and `--json`, paging past a page of the server,
 * `--sessions` listing, enrichment through `PUT /v1/sessions/:session`, and errors with exit codes
 * (1: the server refused or is unreachable, 2: usage). One server serves every test of this file.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ServerProcess } from './helpers.js';
import { BIN, childEnv, json, postNdjson, ROOT, request, runCli, startServer } from './helpers.js';

describe('logsrv query', () => {
  let server: ServerProcess;
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const query = (args: string[]) => runCli(['query', '--server', server.url, ...args], { timeoutMs: 20_000 });

  before(async () => {
    server = await startServer({ after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Parameters<typeof startServer>[0]);
    const reg = await request(`${server.url}/v1/sessions/build-7`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', terminal: 'tty7' }),
    });
    assert.equal(reg.status, 201, reg.text);
    const events = [
      // No session: enriched from the registry by user.
      { user: 'alice', key: 'stdout', value: 'GET /items/4242 took 12 ms', level: 'info', component: 'api' },
      { session: 'build-7', key: 'stderr', value: 'error: connection refused\n  at connect()', level: 'error', component: 'api' },
      { session: 'build-8', key: 'stdout', value: 'Café opened', level: 'info', component: 'web' },
      { session: 'build-8', key: 'status', value: { state: 'done', code: 0 }, level: 'warn' },
      ...Array.from({ length: 1500 }, (_, i) => ({ session: 'bulk', key: 'stdout', value: `bulk line ${i}` })),
    ];
    const r = await postNdjson(server.url, events);
    assert.equal(r.status, 200, r.text);
    assert.equal(json(r).accepted, events.length);
  });

  test('words are a full-text query; human output is one line per event', async () => {
    const r = await query(['items/4242']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}build-7 {2}stdout {2}\[info api\] {2}GET \/items\/4242 took 12 ms$/);
    // Newlines in a value are shown escaped, so one event stays one line.
    const err = await query(['connection', 'refused']);
    assert.match(err.stdout, /error: connection refused\\n {2}at connect\(\)\n$/);
    const cafe = await query(['-q', 'CAFE']);
    assert.match(cafe.stdout, /Café opened/);
  });

  test('--json prints the API events, filters combine', async () => {
    const r = await query(['--json', '--component', 'api', '--level', 'error']);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(events.length, 1);
    assert.equal(events[0].session, 'build-7');
    assert.equal(events[0].value, 'error: connection refused\n  at connect()');
    const byUser = await query(['--json', '--session', 'build-8', '--key', 'status']);
    assert.deepEqual(JSON.parse(byUser.stdout).value, { state: 'done', code: 0 });
  });

  test('--limit caps the output and says how to go on; --all pages through everything', async () => {
    const some = await query(['bulk', '--limit', '5']);
    assert.equal(some.code, 0);
    assert.equal(some.stdout.trimEnd().split('\n').length, 5);
    const cursor = /--after '([^']+)'/.exec(some.stderr)?.[1];
    assert.ok(cursor, some.stderr);
    const next = await query(['bulk', '--limit', '2', '--after', cursor]);
    assert.match(next.stdout, /bulk line 5\n.*bulk line 6\n$/);
    const all = await query(['bulk', '--all', '--json']);
    const values = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).value);
    assert.deepEqual(
      values,
      Array.from({ length: 1500 }, (_, i) => `bulk line ${i}`),
    );
    const none = await query(['zebra']);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /nothing matched/);
  });

  test('--sessions lists sessions with counts, levels and users', async () => {
    const r = await query(['--sessions']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines.find((l) => l.includes('build-7')) ?? '', /build-7 {2}2 events {2}levels error:1,info:1 {2}user alice {2}component api/);
    const mine = await query(['--sessions', '--json', '--user', 'alice']);
    const list = mine.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      list.map((s) => s.session),
      ['build-7'],
    );
    assert.equal(list[0].registered.terminal, 'tty7');
    assert.equal(list[0].latest.stderr.value, 'error: connection refused\n  at connect()');
    const cafe = await query(['--sessions', 'cafe']);
    assert.match(cafe.stdout, /build-8/);
    assert.doesNotMatch(cafe.stdout, /build-7/);
  });

  test('errors: a refused query exits 1 with the server message, usage errors exit 2', async () => {
    const bad = await query(['--from', 'yesterday']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /logsrv query: parameter 'from' must be an RFC 3339 date-time.*LOGSRV_ERR_BAD_PARAM/);
    const punct = await query(['--', '//']);
    assert.equal(punct.code, 1);
    assert.match(punct.stderr, /no word to search for/);
    const limit = await query(['--limit', '0']);
    assert.equal(limit.code, 2);
    const mixed = await query(['--sessions', '--key', 'stdout']);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /--key filters events/);
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((res) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => res(p));
      });
    });
    const down = await runCli(['query', 'x', '--server', `http://127.0.0.1:${port}`], { timeoutMs: 20_000 });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
  test('colour codes are rendered on a terminal and left out otherwise; redraws show their last state; 1 event', async () => {
    const r = await postNdjson(server.url, [
      { session: 'colours', key: 'stdout', value: '\u001b[32mPASS\u001b[0m all good' },
      { session: 'colours', key: 'stdout', value: '\rfetching 10%\rfetching 100%' },
      { session: 'solo', key: 'stdout', value: 'solitary line' },
    ]);
    assert.equal(r.status, 200, r.text);
    // Not a terminal (a pipe): no escape sequence at all, not even escaped as text.
    const piped = await query(['PASS']);
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout, / {2}colours {2}stdout {2}PASS all good\n$/);
    assert.ok(!piped.stdout.includes('\u001b') && !piped.stdout.includes('\\x1b'), JSON.stringify(piped.stdout));
    const progress = await query(['fetching']);
    assert.match(progress.stdout, / {2}stdout {2}fetching 100%\n$/);
    // On a terminal (a pseudo-terminal here): the colours as they were, reset after the value.
    const pty = await import('node-pty');
    const term = pty.spawn(process.execPath, [BIN, 'query', 'PASS', '--server', server.url], {
      cols: 200,
      rows: 24,
      cwd: ROOT,
      env: childEnv() as Record<string, string>,
    });
    let shown = '';
    term.onData((d) => {
      shown += d;
    });
    const code = await new Promise<number>((res) => term.onExit((e) => res(e.exitCode)));
    assert.equal(code, 0, shown);
    assert.ok(shown.includes('\u001b[32mPASS\u001b[0m all good\u001b[0m'), JSON.stringify(shown));
    const solo = await query(['--sessions', 'solitary']);
    assert.match(solo.stdout, / {2}solo {2}1 event\n$/);
  });
});
