import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encodedBytes, OutputLines, type PieceEnd } from '../src/output-lines.ts';

type Piece = [string, PieceEnd];

function split(chunks: Buffer[], max = 1 << 20): Piece[] {
  const out: Piece[] = [];
  const lines = new OutputLines(max, (text, end) => out.push([text, end]));
  for (const c of chunks) lines.push(c);
  lines.end();
  return out;
}

/** Joins `partial` pieces to the piece that completes them: the logical lines. */
function join(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  let acc = '';
  for (const [text, end] of pieces) {
    if (end === 'partial') acc += text;
    else {
      out.push([acc + text, end]);
      acc = '';
    }
  }
  if (acc) out.push([acc, 'partial']);
  return out;
}

/** The rules of output-lines.ts applied to the whole output at once, for comparison. */
function reference(all: Buffer): Piece[] {
  const text = all.toString('utf8');
  const out: Piece[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') {
      out.push([cur, 'line']);
      cur = '';
    } else if (ch === '\r') {
      if (text[i + 1] === '\n') {
        out.push([cur, 'line']);
        cur = '';
        i++;
      } else {
        if (cur) out.push([cur, 'cr']);
        cur = '';
      }
    } else cur += ch;
  }
  if (cur) out.push([cur, 'line']);
  return out;
}

function chunksOf(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(buf.subarray(at, p));
    at = p;
  }
  out.push(buf.subarray(at));
  return out;
}

// Bytes rich in what breaks splitters: line ends, multi-byte lead/continuation bytes, invalid bytes.
const interesting = fc.oneof(
  fc.constantFrom(0x0a, 0x0d, 0x41, 0x20, 0x00, 0x1b, 0xff, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0),
  fc.integer({ min: 0, max: 255 }),
);

describe('OutputLines', () => {
  test('table: line ends, CRLF, progress redraws, empty lines, no final newline', () => {
    const cases: [string, Piece[]][] = [
      [
        'a\nb\n',
        [
          ['a', 'line'],
          ['b', 'line'],
        ],
      ],
      [
        'a\r\nb',
        [
          ['a', 'line'],
          ['b', 'line'],
        ],
      ],
      [
        '\n\n',
        [
          ['', 'line'],
          ['', 'line'],
        ],
      ],
      [
        '10%\r20%\r30%\rdone\n',
        [
          ['10%', 'cr'],
          ['20%', 'cr'],
          ['30%', 'cr'],
          ['done', 'line'],
        ],
      ],
      [
        '\rprogress 1\rprogress 2\n',
        [
          ['progress 1', 'cr'],
          ['progress 2', 'line'],
        ],
      ],
      ['x\r', [['x', 'cr']]],
      ['\r\r\n', [['', 'line']]],
      ['héllo → 😀\n', [['héllo → 😀', 'line']]],
    ];
    for (const [input, want] of cases) assert.deepEqual(split([Buffer.from(input)]), want, JSON.stringify(input));
  });

  test('a character split across reads is joined; invalid bytes become U+FFFD', () => {
    const euro = Buffer.from('€\n'); // e2 82 ac 0a
    assert.deepEqual(split([euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2)]), [['€', 'line']]);
    assert.deepEqual(split([Buffer.from([0x61, 0xff, 0x62, 0x0a, 0xc3])]), [
      ['a\ufffdb', 'line'],
      ['\ufffd', 'line'],
    ]);
  });

  test('any bytes in any chunking give what the whole output decoded at once gives', () => {
    fc.assert(
      fc.property(fc.array(interesting, { maxLength: 300 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const buf = Buffer.from(bytes);
        assert.deepEqual(join(split(chunksOf(buf, cuts))), reference(buf));
      }),
      { numRuns: 2000 },
    );
  });

  test('long lines are cut into pieces whose JSON encoding fits, and join back whole', () => {
    fc.assert(
      fc.property(fc.array(interesting, { maxLength: 600 }), fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 64, max: 200 }), (bytes, cuts, max) => {
        const buf = Buffer.from(bytes);
        const pieces = split(chunksOf(buf, cuts), max);
        for (const [text] of pieces) assert.ok(encodedBytes(text) <= max, `piece of ${encodedBytes(text)} bytes over ${max}`);
        assert.deepEqual(join(pieces), reference(buf));
      }),
      { numRuns: 1000 },
    );
  });

  test('a 3 MB line arriving in 64 KiB reads is sent in pieces under the limit while it streams', () => {
    const line = Buffer.alloc(3 * 1024 * 1024, 'x');
    const out: Piece[] = [];
    const lines = new OutputLines(1_000_000, (text, end) => out.push([text, end]));
    for (let at = 0; at < line.length; at += 65536) lines.push(line.subarray(at, at + 65536));
    assert.equal(out.length, 3, 'pieces go out before the line ends (bounded memory)');
    lines.push(Buffer.from('\n'));
    lines.end();
    assert.deepEqual(
      out.map(([, e]) => e),
      ['partial', 'partial', 'partial', 'line'],
    );
    assert.equal(out.map(([t]) => t).join(''), line.toString());
    for (const [t] of out) assert.ok(t.length <= 1_000_000);
  });

  test('flushPartial sends an unfinished line (a prompt) and the rest follows as its own event', () => {
    const out: Piece[] = [];
    const lines = new OutputLines(1 << 20, (text, end) => out.push([text, end]));
    lines.push(Buffer.from('Password: '));
    assert.equal(lines.hasPending, true);
    lines.flushPartial();
    lines.push(Buffer.from('ok\n50%\r'));
    lines.flushPartial();
    lines.push(Buffer.from('\nnext\n'));
    lines.end();
    assert.deepEqual(out, [
      ['Password: ', 'partial'],
      ['ok', 'line'],
      ['50%', 'cr'],
      ['next', 'line'],
    ]);
  });
});
