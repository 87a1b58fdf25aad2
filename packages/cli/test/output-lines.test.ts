import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { screenLine } from '@logsrv/protocol/terminal';
import fc from 'fast-check';
import { encodedBytes, OutputLines, type PieceEnd } from '../src/output-lines.ts';

type Piece = [string, PieceEnd];

/** The pieces of `chunks`; `bytes` also takes the fast path (whole lines as byte ranges), which must give the same pieces. */
function split(chunks: Buffer[], max = 1 << 20, bytes = false): Piece[] {
  const out: Piece[] = [];
  const lines = new OutputLines(
    max,
    (text, end) => out.push([text, end]),
    bytes ? (buf, start, end) => out.push([buf.toString('utf8', start, end), 'line']) : null,
  );
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

/** The rules of output-lines.ts applied to the whole output at once: lines end at `\n` (a `\r` before it is dropped), other `\r` stay. */
function reference(all: Buffer): Piece[] {
  const text = all.toString('utf8');
  const out: Piece[] = text.split('\n').map((l) => [l.endsWith('\r') ? l.slice(0, -1) : l, 'line']);
  const last = out.pop() as Piece;
  if (last[0] !== '' || text.endsWith('\r')) out.push(last);
  return out;
}

/** What a terminal shows of each line (the trailing `\r` puts every line through the screen model, so escapes are compared normalised). */
function screens(pieces: Piece[]): string[] {
  return pieces.map(([t]) => screenLine(`${t}\r`));
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
      // A redraw stays in the text; a line read whole is one event.
      ['10%\r20%\r30%\rdone\n', [['10%\r20%\r30%\rdone', 'line']]],
      ['\rprogress 1\rprogress 2\n', [['\rprogress 1\rprogress 2', 'line']]],
      // An unfinished line with a redraw goes out at once, `\r` and all.
      ['x\r', [['x\r', 'partial']]],
      ['\r\r\n', [['\r', 'line']]],
      ['a\bb\n', [['a\bb', 'line']]],
      ['héllo → 😀\n', [['héllo → 😀', 'line']]],
    ];
    for (const bytes of [false, true]) {
      for (const [input, want] of cases) assert.deepEqual(split([Buffer.from(input)], 1 << 20, bytes), want, JSON.stringify(input));
    }
  });

  test('a character split across reads is joined; invalid bytes become U+FFFD', () => {
    const euro = Buffer.from('€\n'); // e2 82 ac 0a
    for (const bytes of [false, true]) {
      assert.deepEqual(split([euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2)], 1 << 20, bytes), [['€', 'line']]);
      assert.deepEqual(split([Buffer.from([0x61, 0xff, 0x62, 0x0a, 0xc3])], 1 << 20, bytes), [
        ['a\ufffdb', 'line'],
        ['\ufffd', 'line'],
      ]);
    }
  });

  test('any bytes in any chunking give what the whole output decoded at once gives', () => {
    fc.assert(
      fc.property(fc.array(interesting, { maxLength: 300 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
        const buf = Buffer.from(bytes);
        // A `\r\n` cut between reads leaves its `\r` in the first piece: the same picture.
        assert.deepEqual(screens(join(split(chunksOf(buf, cuts)))), screens(reference(buf)));
      }),
      { numRuns: 2000 },
    );
  });

  test('the fast path (whole lines as bytes) gives exactly the pieces of the string path, for any bytes, chunking and limit', () => {
    fc.assert(
      fc.property(fc.array(interesting, { maxLength: 600 }), fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 64, max: 400 }), (bytes, cuts, max) => {
        const chunks = chunksOf(Buffer.from(bytes), cuts);
        assert.deepEqual(split(chunks, max, true), split(chunks, max, false));
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
        assert.deepEqual(screens(join(pieces)), screens(reference(buf)));
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
    assert.equal(lines.hasPending, false, 'a redraw does not wait for the quiet period');
    lines.push(Buffer.from('\nnext\n'));
    lines.end();
    assert.deepEqual(out, [
      ['Password: ', 'partial'],
      ['ok', 'line'],
      ['50%\r', 'partial'],
      ['', 'line'],
      ['next', 'line'],
    ]);
  });

  test('a progress bar redrawn read by read sends every state at once, as pieces of one line', () => {
    const out: Piece[] = [];
    const lines = new OutputLines(1 << 20, (text, end) => out.push([text, end]));
    for (const p of [10, 50, 100]) {
      lines.push(Buffer.from(`\rprogress ${p}%`));
      assert.equal(lines.hasPending, false);
    }
    lines.push(Buffer.from('\n'));
    lines.end();
    assert.deepEqual(out, [
      ['\rprogress 10%', 'partial'],
      ['\rprogress 50%', 'partial'],
      ['\rprogress 100%', 'partial'],
      ['', 'line'],
    ]);
    assert.equal(screenLine(out.map(([t]) => t).join('')), 'progress 100%');
  });
});
