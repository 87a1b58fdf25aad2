/**
 * The `q` search semantics: the JavaScript tokenizer against the SQLite FTS5 tokenizer it
 * replicates (code point by code point, and on random text), query parsing edge cases, and the
 * FTS5 index against `matchesText` on random documents — the property that keeps filtered tails
 * exact at their history/live seam.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { ftsExpression, matchesText, parseTextQuery, TOKENIZER, tokenize } from '../src/search/index.ts';
import { PROBED_SQLITE_VERSION } from '../src/search/unicode61-table.ts';

function ftsDb(): Database.Database {
  const db = new Database(':memory:');
  db.exec(`CREATE VIRTUAL TABLE t USING fts5(v, tokenize='${TOKENIZER}'); CREATE VIRTUAL TABLE tv USING fts5vocab(t, 'instance');`);
  return db;
}

/** SQLite's tokens of each text, by position in `texts`. */
function sqliteTokens(texts: string[]): string[][] {
  const db = ftsDb();
  const insert = db.prepare('INSERT INTO t (rowid, v) VALUES (?, ?)');
  db.transaction(() => {
    for (const [i, s] of texts.entries()) insert.run(i + 1, s);
  })();
  const out: string[][] = texts.map(() => []);
  for (const r of db.prepare('SELECT doc, term FROM tv ORDER BY doc, offset').iterate() as Iterable<{ doc: number; term: string }>) {
    out[r.doc - 1]?.push(r.term);
  }
  db.close();
  return out;
}

// Characters that stress the tokenizer: ASCII letters and punctuation, accents precomposed and
// combining, case pairs with special rules, CJK, emoji, lone surrogates, NUL, odd spaces.
const ALPHABET = [
  ...'aZ09 _-/:."\'*\t\n',
  'É',
  'é',
  'e\u0301',
  '\u0301',
  'ß',
  'ẞ',
  'İ',
  'ı',
  'Σ',
  'ς',
  'ſ',
  'Å',
  'Ǆ',
  'ǅ',
  '日本',
  '語',
  '😀',
  '\ud800',
  '\udc00',
  '\u0000',
  '\u00a0',
  '\u2028',
  '\u3000',
  '\uFFFD',
  '𝐀',
  'Ⓐ',
  '½',
  '١',
];
const textArb = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 24 }).map((a) => a.join(''));

describe('tokenizer', () => {
  test(`matches SQLite ${PROBED_SQLITE_VERSION} unicode61 for every BMP code point`, () => {
    const texts: string[] = [];
    for (let c = 0; c < 0x10000; c++) texts.push(`q${String.fromCharCode(c)}q`);
    const expected = sqliteTokens(texts);
    const bad: string[] = [];
    for (let c = 0; c < 0x10000; c++) {
      const got = tokenize(texts[c] as string);
      if (JSON.stringify(got) !== JSON.stringify(expected[c])) bad.push(`U+${c.toString(16)}: js ${JSON.stringify(got)} sqlite ${JSON.stringify(expected[c])}`);
    }
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} code points differ; rerun scripts/gen-unicode61-table.mjs`);
  });

  test('matches SQLite on random text', () => {
    const samples = fc.sample(textArb, { numRuns: 3000, seed: 42 });
    const expected = sqliteTokens(samples);
    for (const [i, s] of samples.entries()) assert.deepEqual(tokenize(s), expected[i], JSON.stringify(s));
  });

  test('folding is idempotent, so folded words can be handed back to FTS5 as query text', () => {
    fc.assert(
      fc.property(textArb, (s) => {
        const words = tokenize(s);
        assert.deepEqual(tokenize(words.join(' ')), words);
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});

describe('q syntax', () => {
  const cases: [string, string | null, string][] = [
    ['items/4242', '"items 4242"', 'punctuation separates words of one term'],
    ['"a:b"', '"a b"', 'a quoted term'],
    ['a:b', '"a b"', 'colon is not a column filter'],
    ['  Hello   WORLD ', '"hello" AND "world"', 'terms AND-ed, case folded'],
    ['"connection refused" timeout', '"connection refused" AND "timeout"', 'quoted phrase with a space'],
    ['"unbalanced quote', '"unbalanced quote"', 'a missing closing quote ends at the end'],
    ['fail*', '"fail" *', 'prefix'],
    ['"exit co"*', '"exit co" *', 'quoted prefix'],
    ['Café naïve', '"cafe" AND "naive"', 'accents folded'],
    ['日本語', '"日本語"', 'CJK run is one word'],
    ['x AND y OR NOT z', '"x" AND "and" AND "y" AND "or" AND "not" AND "z"', 'operators are words'],
    ['NEAR(a b) col:x ^start', '"near a" AND "b" AND "col x" AND "start"', 'FTS5 syntax is inert'],
    ['-- "" a', '"a"', 'terms without words are skipped'],
    ['', null, 'empty'],
    ['   ', null, 'blank'],
    ['""', 'error', 'only an empty phrase'],
    ['/ -- *', 'error', 'only punctuation'],
  ];
  for (const [q, want, why] of cases) {
    test(`${JSON.stringify(q)}: ${why}`, () => {
      if (want === 'error') {
        assert.throws(() => parseTextQuery(q), /no word to search for/);
        return;
      }
      const tq = parseTextQuery(q);
      assert.equal(tq === null ? null : ftsExpression(tq), want);
    });
  }

  test('matchesText: phrases are consecutive words, prefixes match word starts', () => {
    const m = (q: string, v: string) => matchesText(parseTextQuery(q)!, v);
    assert.ok(m('items/4242', 'GET /items/4242 200'));
    assert.ok(m('items/4242', 'items 4242'));
    assert.ok(!m('items/4242', 'items/42420'));
    assert.ok(!m('items/4242', '4242 items'));
    assert.ok(m('"a:b"', 'x a-b y'));
    assert.ok(m('fail*', 'build FAILED'));
    assert.ok(!m('fail', 'build failed'));
    assert.ok(m('cafe', 'Ça va au CAFÉ'));
    assert.ok(m('"exit co"*', '{"exit":{"code":1}}'.replace(/[{}:"]/g, ' ')));
    assert.ok(m('timeout error', 'error: upstream timeout'));
    assert.ok(!m('timeout error', 'upstream timeout'));
  });
});

describe('FTS5 index and matchesText agree', () => {
  test('on random documents and queries built from their words', () => {
    const db = ftsDb();
    const docs = fc.sample(textArb, { numRuns: 400, seed: 3 });
    const insert = db.prepare('INSERT INTO t (rowid, v) VALUES (?, ?)');
    db.transaction(() => {
      for (const [i, d] of docs.entries()) insert.run(i + 1, d);
    })();
    const search = db.prepare('SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid');
    const queries = fc.sample(
      fc.tuple(
        fc.array(fc.constantFrom(...ALPHABET, ' ', '"', '*', 'q', 'qq'), { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
        fc.nat(docs.length - 1),
      ),
      { numRuns: 600, seed: 11 },
    );
    let compared = 0;
    for (const [raw, from] of queries) {
      // Half the queries are slices of a document, so they do match something.
      const q = compared % 2 === 0 ? raw : (docs[from] as string).slice(0, 6);
      let tq: ReturnType<typeof parseTextQuery>;
      try {
        tq = parseTextQuery(q);
      } catch {
        continue;
      }
      if (tq === null) continue;
      const viaIndex = (search.all(ftsExpression(tq)) as { rowid: number }[]).map((r) => r.rowid);
      const viaJs = docs.flatMap((d, i) => (matchesText(tq, d) ? [i + 1] : []));
      assert.deepEqual(viaJs, viaIndex, `q=${JSON.stringify(q)} → ${ftsExpression(tq)}`);
      compared++;
    }
    assert.ok(compared > 300, `compared ${compared}`);
    db.close();
  });
});
