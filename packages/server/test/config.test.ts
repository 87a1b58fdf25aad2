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
    ['a store that is not available', () => loadConfig({ store: 'postgres://x' }), /only the embedded "sqlite" store/],
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
