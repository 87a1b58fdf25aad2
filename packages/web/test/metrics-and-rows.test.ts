import assert from 'node:assert/strict';
import { test } from 'node:test';
import { searchTerms } from '../src/ansi-text.tsx';
import type { StoredEvent } from '../src/api.ts';
import { compareIds, idPos } from '../src/history.ts';
import { parseMetrics } from '../src/metrics.ts';
import { appendRows, rowHas, rowsAfter, rowsBefore } from '../src/rows.ts';

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
  const later = rowsBefore(undefined, events.slice(3)).rows;
  const earlier = rowsBefore(later[0], events.slice(0, 3)).rows;
  const all = [...earlier, ...later];
  const key = all[1]?.section;
  assert.ok(key);
  assert.deepEqual(
    all.map((r) => r.section),
    [null, key, key, key, key, null],
  );
});

const piece = (id: string, key: string, value: string, partial: boolean): StoredEvent => ({
  ...ev(id, key, value),
  ...(partial ? { attrs: { partial: true } } : {}),
});

test('a line sent in pieces is one row drawn as the terminal did, however the pieces are paged', () => {
  const events = [
    piece('1-0', 'stdout', 'compiling', false),
    piece('1-1', 'stdout', '\rprogress 10%', true),
    piece('1-2', 'stdout', '\rprogress 50%', true),
    piece('1-3', 'stdout', '\rprogress 100%', false),
    piece('1-4', 'stderr', 'warning', false),
    piece('1-5', 'stdout', 'Password: ', true),
    piece('1-6', 'stdout', 'ok', false),
  ];
  const want = ['compiling', 'progress 100%', 'warning', 'Password: ok'];
  const whole = rowsAfter(undefined, events);
  assert.deepEqual(
    whole.map((r) => r.text),
    want,
  );
  assert.deepEqual(
    whole.map((r) => [r.id, r.lastId, r.k, r.events]),
    [
      ['1-0', '1-0', 0, 1],
      ['1-1', '1-3', 1, 3],
      ['1-4', '1-4', 4, 1],
      ['1-5', '1-6', 5, 2],
    ],
  );
  const progress = whole[1];
  assert.ok(progress && rowHas(progress, '1-2') && !rowHas(progress, '1-4'));
  for (let cut = 1; cut < events.length; cut++) {
    // Live: one event at a time after the first `cut`.
    let rows = rowsAfter(undefined, events.slice(0, cut));
    for (const e of events.slice(cut)) rows = appendRows(rows, [e]);
    assert.deepEqual(
      rows.map((r) => r.text),
      want,
      `appended after ${cut}`,
    );
    // History: the later page first, the earlier one prepended.
    const later = rowsBefore(undefined, events.slice(cut)).rows;
    const { rows: earlier, mergedNext } = rowsBefore(later[0], events.slice(0, cut));
    const all = [...earlier, ...(mergedNext ? later.slice(1) : later)];
    assert.deepEqual(
      all.map((r) => r.text),
      want,
      `prepended at ${cut}`,
    );
    assert.deepEqual(
      all.map((r) => [r.id, r.lastId, r.events]),
      whole.map((r) => [r.id, r.lastId, r.events]),
    );
    // Positions relative to the window are consistent: consecutive rows differ by their event count.
    for (const [i, r] of all.entries()) if (i > 0) assert.equal(r.k - (all[i - 1]?.k ?? 0), all[i - 1]?.events);
  }
});
