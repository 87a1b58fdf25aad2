import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '@logsrv/server';

function file(content: string): string {
  const p = join(mkdtempSync(join(tmpdir(), 'logsrv-cfg-')), 'c.json');
  writeFileSync(p, content);
  return p;
}

describe('configuration', () => {
  test('defaults match the documented ones', () => {
    const c = loadConfig({});
    assert.equal(c.httpHost, '127.0.0.1');
    assert.equal(c.httpPort, 7070);
    assert.equal(c.dataDir, './data');
    assert.equal(c.maxLineBytes, 1024 * 1024);
    assert.equal(c.store, 'sqlite');
    assert.equal(c.queue, 'memory');
  });

  test('a flag beats env, env beats the config file, the file beats the default', () => {
    const f = file(JSON.stringify({ maxLineBytes: 1000, maxQueueEvents: 7, readerThreads: 3 }));
    const c = loadConfig({ maxLineBytes: '2000' }, { LOGSRV_MAX_LINE_BYTES: '3000', LOGSRV_MAX_QUEUE_EVENTS: '9' }, f);
    assert.equal(c.maxLineBytes, 2000);
    assert.equal(c.maxQueueEvents, 9);
    assert.equal(c.readerThreads, 3);
  });

  test('IPv6 listen addresses are accepted', () => {
    const c = loadConfig({ http: '[::1]:0' });
    assert.equal(c.httpHost, '::1');
    assert.equal(c.httpPort, 0);
  });

  const bad: [string, () => unknown, RegExp][] = [
    [
      'a non-numeric size',
      () => loadConfig({ maxLineBytes: 'abc' }),
      /--max-line-bytes \(env LOGSRV_MAX_LINE_BYTES, config "maxLineBytes"\): must be an integer ≥ 64, got "abc"/,
    ],
    ['a negative env value', () => loadConfig({}, { LOGSRV_MAX_QUEUE_EVENTS: '-1' }), /--max-queue-events.*must be an integer ≥ 1/],
    ['an address without a port', () => loadConfig({ http: 'localhost' }), /--http.*HOST:PORT/],
    ['an unknown enum value', () => loadConfig({ sqliteSynchronous: 'off' }), /must be one of normal, full/],
    [
      'an idle timeout shorter than the tail heartbeat',
      () => loadConfig({ idleTimeoutMs: '1000', tailHeartbeatMs: '5000' }),
      /--idle-timeout-ms \(1000\) must be longer than --tail-heartbeat-ms/,
    ],
    ['a store engine it does not know', () => loadConfig({ store: 'mysql://x' }), /--store mysql:\/\/x: use "sqlite" or postgres:\/\//],
    ['a queue engine it does not know', () => loadConfig({ queue: 'kafka://x' }), /--queue kafka:\/\/x: use "memory" or redis:\/\//],
    ['Redis Streams with the embedded store', () => loadConfig({ queue: 'redis://127.0.0.1:6379/0' }), /needs --store postgres:\/\//],
    ['a role other than all on the memory queue', () => loadConfig({ role: 'writer' }), /--role writer runs one part of a deployment/],
    ['a replica for the embedded store', () => loadConfig({ storeRead: 'postgres://r/db' }), /--store-read needs --store postgres/],
    ['an unknown key in the config file', () => loadConfig({}, {}, file('{"maxLineByte": 5}')), /unknown option "maxLineByte"/],
    ['a config file that is not JSON', () => loadConfig({}, {}, file('{nope')), /is not valid JSON/],
    ['a missing config file', () => loadConfig({}, {}, '/nonexistent/logsrv.json'), /cannot read config file/],
  ];
  for (const [name, fn, msg] of bad) {
    test(`fails fast on ${name}`, () => {
      assert.throws(fn, (err: unknown) => err instanceof ConfigError && msg.test(err.message));
    });
  }
});
