import assert from 'node:assert/strict';
import { test } from 'node:test';
import { searchTerms } from '../src/ansi-text.tsx';
import type { StoredEvent } from '../src/api.ts';
import { compareIds, idPos } from '../src/history.ts';
import { parseMetrics } from '../src/metrics.ts';
import { rowsAfter, rowsBefore } from '../src/rows.ts';

test('Prometheus text: samples summed per name across label sets, comments and escaped label values handled', () => {
  const m = parseMetrics(
    [
      '# HELP logsrv_accepted_total Events committed',
      '# TYPE logsrv_accepted_total counter',
      'logsrv_accepted_total{transport="http"} 40',
      'logsrv_accepted_total{transport="udp"} 2',
      'logsrv_dropped_total{transport="udp",reason="a \\"quoted\\" } brace"} 3 1700000000000',
      'logsrv_queue_depth 7',
      'logsrv_writer_batch_seconds_bucket{le="+Inf"} 9',
      '',
    ].join('\n'),
  );
  assert.equal(m.get('logsrv_accepted_total'), 42);
  assert.equal(m.get('logsrv_dropped_total'), 3);
  assert.equal(m.get('logsrv_queue_depth'), 7);
  assert.equal(m.get('logsrv_writer_batch_seconds_bucket'), 9);
});

test('ids compare numerically, not as strings', () => {
  assert.ok(compareIds('1700000000000-9', '1700000000000-31') < 0);
  assert.ok(compareIds('1700000000001-0', '1700000000000-99999') > 0);
  assert.equal(idPos('not-an-id'), null);
});

test('search terms: words, quoted phrases and prefixes, lower-cased for highlighting', () => {
  assert.deepEqual(searchTerms('Timeout "connection refused" fail*'), ['timeout', 'connection refused', 'fail']);
  assert.deepEqual(searchTerms('   '), []);
});

const ev = (id: string, key: string, value: unknown = 'x'): StoredEvent => ({ id, session: 's', key, value: value as string, ts: '', received: '' });

test('step sections: the same rows get one section whether read forwards or backwards', () => {
  const events = [
    ev('1-0', 'stdout'),
    ev('1-1', 'step.start', { command: ['make'] }),
    ev('1-2', 'stdout'),
    ev('1-3', 'stderr'),
    ev('1-4', 'step.exit', { code: 2 }),
    ev('1-5', 'stdout'),
  ];
  const fwd = rowsAfter(undefined, events);
  assert.deepEqual(
    fwd.map((r) => r.section),
    [null, '1-1', '1-1', '1-1', '1-1', null],
  );
  assert.equal(fwd[4]?.exit?.code, 2);
  assert.equal(fwd[1]?.text, 'make');
  // Read backwards in two pages: the later page first, then the earlier one prepended.
  const later = rowsBefore(undefined, events.slice(3));
  const earlier = rowsBefore(later[0], events.slice(0, 3));
  const all = [...earlier, ...later];
  const key = all[1]?.section;
  assert.ok(key);
  assert.deepEqual(
    all.map((r) => r.section),
    [null, key, key, key, key, null],
  );
});
