import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { labelsText, parseLabels } from '../src/ingest/loki/parse-labels.ts';

function ok(text: string): Record<string, string> {
  const r = parseLabels(text);
  if ('error' in r) assert.fail(`refused ${text}: ${r.error}`);
  return { ...r.labels };
}

describe('Loki label sets', () => {
  test('as Promtail writes them, and the other quotes and escapes of the selector syntax', () => {
    assert.deepEqual(ok('{app="api", env="prod"}'), { app: 'api', env: 'prod' });
    assert.deepEqual(ok('{}'), {});
    assert.deepEqual(ok(" { a = \"x\\ty\\n\" ,b='q\\'', c=`raw\\n` } "), { a: 'x\ty\n', b: "q'", c: 'raw\\n' });
    assert.deepEqual(ok('{a="\\u00e9\\x41\\101\\U0001F600"}'), { a: 'éAA😀' });
  });
  for (const [text, why] of [
    ['app="x"', /start with '\{'/],
    ['{app=x}', /quoted label value expected/],
    ['{app!="x"}', /only = matchers|label name|'=' /],
    ['{app=~"x"}', /only = matchers/],
    ['{1a="x"}', /label name expected/],
    ['{a="x"', /',' or '}' expected/],
    ['{a="x} ', /unterminated/],
    ['{a="\\q"}', /unknown escape/],
    ['{a="x"} extra', /text after/],
  ] as const) {
    test(`refuses ${text}`, () => {
      const r = parseLabels(text);
      assert.ok('error' in r, `accepted ${text}`);
      assert.match(r.error, why);
    });
  }
  test('fuzz: never throws; any label set in its canonical text parses back to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (s) => {
        parseLabels(s);
        parseLabels(`{a="${s}"}`);
      }),
      { numRuns: 3000 },
    );
    const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,15}$/);
    fc.assert(
      fc.property(fc.dictionary(name, fc.string({ unit: 'grapheme', maxLength: 30 }), { maxKeys: 8 }), (labels) => {
        assert.deepEqual(ok(labelsText(labels)), { ...labels });
      }),
      { numRuns: 2000 },
    );
  });
});
