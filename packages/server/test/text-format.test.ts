/**
 * `format=text` of a session (store/row-text.ts renderTextBody): the output as a terminal showed
 * it — pieces joined, `\r` redraws shown as their last state, steps as separators, no event JSON.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '@logsrv/protocol';
import { renderHtml } from '../src/query/render.ts';
import { renderTextBody } from '../src/store/row-text.ts';

let n = 0;
function ev(key: string, value: StoredEvent['value'], extra: Partial<StoredEvent> = {}): StoredEvent {
  n++;
  return { id: `1-${n}`, session: 's', key, value, ts: '2026-12-05T00:00:00.000Z', received: '2026-12-05T00:00:00.000Z', ...extra };
}

const run: StoredEvent[] = [
  ev('step.start', { command: ['make'], cwd: '/x' }, { step: 'build' }),
  ev('stdout', 'compiling'),
  ev('stdout', '\rprogress 10%', { attrs: { partial: true } }),
  ev('stdout', '\rprogress 50%', { attrs: { partial: true } }),
  ev('stdout', '\rprogress 100%'),
  ev('stderr', 'warning: x'),
  ev('stdout', 'Password: ', { attrs: { partial: true } }),
  ev('stdout', 'ok'),
  ev('deploy.phase', { phase: 'migrate' }),
  ev('step.exit', { code: 0, signal: null, durationMs: 5, final: true }, { step: 'build' }),
];

test('a session read whole: output lines as the terminal showed them, a named step as a separator, no event JSON', () => {
  assert.equal(renderTextBody(run, { joined: true }), '── step build ──\ncompiling\nprogress 100%\nwarning: x\nPassword: ok\n');
});

test('a step without a name adds no line: the text is exactly the output', () => {
  const events = run.map((e) => (e.key.startsWith('step.') ? { ...e, step: undefined } : e)) as StoredEvent[];
  for (const e of events) if (e.step === undefined) delete e.step;
  assert.equal(renderTextBody(events, { joined: true }), 'compiling\nprogress 100%\nwarning: x\nPassword: ok\n');
});

test('pages cut inside a line join back to the same text', () => {
  for (let cut = 1; cut < run.length; cut++) {
    const a = renderTextBody(run.slice(0, cut), { joined: true });
    const b = renderTextBody(run.slice(cut), { joined: true, continued: true });
    // What a terminal shows of the two pages printed one after the other.
    const shown = (a + b)
      .split('\n')
      .map((l) => l.slice(l.lastIndexOf('\r') + 1))
      .join('\n');
    assert.equal(shown, renderTextBody(run, { joined: true }), `cut at ${cut}`);
  }
});

test('key= asks for other events: their values, one per line', () => {
  const phases = run.filter((e) => e.key === 'deploy.phase');
  assert.equal(renderTextBody(phases, { joined: true, key: 'deploy.phase' }), '{"phase":"migrate"}\n');
});

test('search results (not joined): each value on its own line, output as its screen', () => {
  assert.equal(renderTextBody([run[4] as StoredEvent, run[8] as StoredEvent]), 'progress 100%\n{"phase":"migrate"}\n');
});

test('format=html: a line sent in pieces is one row, drawn as the terminal did, linked by its first piece', () => {
  const html = renderHtml('s', run, null);
  const rows = html.split('\n').filter((l) => l.startsWith('<div class="out"'));
  assert.deepEqual(
    rows.map((r) => r.replace(/<a [^>]*>#<\/a> /, '').replace(/<[^>]+>/g, '')),
    ['compiling', 'progress 100%', 'Password: ok'],
  );
  assert.match(rows[1] as string, /id="e-1-3"/);
});
