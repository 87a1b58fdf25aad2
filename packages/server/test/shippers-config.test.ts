import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../src/config.ts';
import { BulkSyntaxError, parseBulk } from '../src/ingest/elasticsearch/parse-bulk.ts';
import { bulkCandidate } from '../src/ingest/elasticsearch/to-events.ts';
import { SessionTemplate } from '../src/ingest/session-template.ts';

describe('shippers: configuration', () => {
  test('syslog is off by default; HOST:PORT by flag or env turns it on; templates have defaults', () => {
    const c = loadConfig({}, {});
    assert.deepEqual([c.syslogUdpHost, c.syslogTcpHost], [null, null]);
    assert.equal(c.syslogSession, '{hostname}/{app}|{hostname}|{peer}');
    assert.equal(c.lokiSession, '{labels}');
    const on = loadConfig({ syslogUdp: '127.0.0.1:5514' }, { LOGSRV_SYSLOG_TCP: '0.0.0.0:6514', LOGSRV_OTLP_SESSION: 'otel' });
    assert.deepEqual([on.syslogUdpHost, on.syslogUdpPort, on.syslogTcpHost, on.syslogTcpPort, on.otlpSession], ['127.0.0.1', 5514, '0.0.0.0', 6514, 'otel']);
  });
  test('a bad address or template stops the start with a message naming the option', () => {
    assert.throws(
      () => loadConfig({ syslogTcp: '5514' }, {}),
      (e: Error) => e instanceof ConfigError && /--syslog-tcp .*HOST:PORT/.test(e.message),
    );
    assert.throws(
      () => loadConfig({}, { LOGSRV_LOKI_SESSION: '{job' }),
      (e: Error) => e instanceof ConfigError && /--loki-session.*unclosed/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ elasticsearchSession: 'a||b' }, {}),
      (e: Error) => e instanceof ConfigError && /empty alternative/.test(e.message),
    );
  });
});

describe('session templates', () => {
  const values: Record<string, string> = { hostname: 'web1', app: 'nginx', empty: '' };
  const get = (n: string) => values[n];
  test('the first alternative whose every hole has a value wins; literal text always applies', () => {
    assert.equal(new SessionTemplate('{hostname}/{app}|{hostname}').resolve(get), 'web1/nginx');
    assert.equal(new SessionTemplate('{missing}/{app}|host-{hostname}').resolve(get), 'host-web1');
    assert.equal(new SessionTemplate('{empty}|{missing}').resolve(get), undefined);
    assert.equal(new SessionTemplate('{missing}|shipped').resolve(get), 'shipped');
    assert.equal(new SessionTemplate('{ app }').resolve(get), 'nginx');
  });
  test('a result is cut to the 256-character session limit', () => {
    assert.equal(new SessionTemplate('{x}').resolve(() => 'y'.repeat(300))?.length, 256);
  });
});

describe('Elasticsearch bulk body', () => {
  test('pairs of action and source; delete has no source; the path index is the default', () => {
    const items = parseBulk('{"index":{"_index":"a","_id":"1"}}\n{"message":"x"}\n{"delete":{"_id":"2"}}\n\n{"create":{}}\n[1]\n', 'p');
    assert.deepEqual(
      items.map((i) => [i.action, i.index, i.id, 'error' in i.doc ? 'error' : 'doc']),
      [
        ['index', 'a', '1', 'doc'],
        ['delete', 'p', '2', 'error'],
        ['create', 'p', undefined, 'error'],
      ],
    );
  });
  test('fuzz: any text either parses into items or fails with a BulkSyntaxError naming a line', () => {
    const line = fc.oneof(
      fc.constantFrom('{"index":{}}', '{"create":{"_index":"i"}}', '{"delete":{}}', '{"update":{}}', '{"message":"m"}', '{}', '[]', 'null', '"s"'),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        try {
          for (const it of parseBulk(lines.join('\n'), undefined)) assert.ok(['index', 'create', 'delete', 'update'].includes(it.action));
        } catch (err) {
          assert.ok(err instanceof BulkSyntaxError, String(err));
          assert.match(err.message, /^line \d+: /);
        }
      }),
      { numRuns: 2000 },
    );
  });
  test('ECS and dotted fields map onto the event; the index is the default session', () => {
    const t = new SessionTemplate('{_index}');
    const a = bulkCandidate(
      { '@timestamp': 1733392800000, 'log.level': 'WARNING', 'service.name': 'api', log: 'raw line', host: { name: 'h' } },
      'idx',
      'id1',
      t,
    );
    assert.ok(!('reason' in a));
    assert.deepEqual(a.event, {
      key: 'log',
      ts: 1733392800000,
      value: 'raw line',
      component: 'api',
      level: 'warn',
      attrs: { 'log.level': 'WARNING', 'service.name': 'api', host: { name: 'h' }, _index: 'idx' },
    });
    assert.equal(a.fallback, 'idx');
    const whole = bulkCandidate({ a: 1 }, 'idx', 'id2', t);
    assert.ok(!('reason' in whole));
    assert.deepEqual(whole.event.value, { a: 1 });
    const bad = bulkCandidate({ '@timestamp': 'soon' }, 'idx', 'id3', t);
    assert.ok('reason' in bad && bad.reason === 'invalid_ts');
  });
});
