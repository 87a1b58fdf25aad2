import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LineSplitter } from '../src/ingest/split-lines.ts';

type Out = { index: number; text: string | null; reason: string | null };

function split(chunks: Buffer[], maxLineBytes = 1024): Out[] {
  const out: Out[] = [];
  const s = new LineSplitter(maxLineBytes, (index, text, error) => out.push({ index, text, reason: error?.reason ?? null }));
  for (const c of chunks) s.push(c);
  s.end();
  return out;
}

/** Cuts a buffer into pieces at the given offsets (sorted, deduplicated). */
function cut(buf: Buffer, at: number[]): Buffer[] {
  const points = [...new Set([0, ...at.filter((n) => n > 0 && n < buf.length), buf.length])].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  for (let i = 1; i < points.length; i++) parts.push(buf.subarray(points[i - 1], points[i]));
  return parts;
}

describe('line splitter', () => {
  test('numbers lines from 0, blank lines included, and ends without a trailing newline', () => {
    const out = split([Buffer.from('a\n\nb\nc')]);
    assert.deepEqual(
      out.map((o) => [o.index, o.text]),
      [
        [0, 'a'],
        [1, ''],
        [2, 'b'],
        [3, 'c'],
      ],
    );
  });

  test('strips the CR of CRLF line ends', () => {
    assert.deepEqual(
      split([Buffer.from('a\r\nb\r\n')]).map((o) => o.text),
      ['a', 'b'],
    );
  });

  test('every way of cutting a multi-byte UTF-8 stream gives the same lines', () => {
    const text = 'héllo wörld\n€uro 𝄞 clef\n日本語のログ\nplain\n';
    const buf = Buffer.from(text);
    const want = text.split('\n').slice(0, -1);
    for (let a = 0; a < buf.length; a++) {
      for (let b = a; b < buf.length; b += 3) {
        const got = split(cut(buf, [a, b])).map((o) => o.text);
        assert.deepEqual(got, want, `cut at ${a},${b}`);
      }
    }
  });

  test('random chunking of many lines never loses or merges a line', () => {
    const lines = Array.from({ length: 500 }, (_, i) => `{"n":${i},"v":"${'ü'.repeat(i % 7)}x"}`);
    const buf = Buffer.from(`${lines.join('\n')}\n`);
    for (let round = 0; round < 20; round++) {
      const at = Array.from({ length: 40 }, () => Math.floor(Math.random() * buf.length));
      assert.deepEqual(
        split(cut(buf, at)).map((o) => o.text),
        lines,
      );
    }
  });

  test('a line over the limit is reported once, skipped, and its neighbours survive', () => {
    const long = 'x'.repeat(5000);
    const buf = Buffer.from(`first\n${long}\nlast\n`);
    for (const pieces of [[buf], cut(buf, [10, 100, 2000, 4000, 5003])]) {
      const out = split(pieces, 1024);
      assert.deepEqual(
        out.map((o) => [o.index, o.text, o.reason]),
        [
          [0, 'first', null],
          [1, null, 'line_too_large'],
          [2, 'last', null],
        ],
      );
    }
  });

  test('a line of exactly the limit passes', () => {
    const out = split([Buffer.from(`${'y'.repeat(1024)}\n`)], 1024);
    assert.equal(out[0]?.text?.length, 1024);
  });

  test('invalid UTF-8 rejects only its own line', () => {
    const buf = Buffer.concat([Buffer.from('ok1\n'), Buffer.from([0x61, 0xff, 0xfe, 0x0a]), Buffer.from('ok2\n'), Buffer.from([0xc3]), Buffer.from('\nok3')]);
    for (const pieces of [[buf], cut(buf, [1, 5, 6, 9, 13])]) {
      assert.deepEqual(
        split(pieces).map((o) => [o.index, o.text, o.reason]),
        [
          [0, 'ok1', null],
          [1, null, 'invalid_utf8'],
          [2, 'ok2', null],
          [3, null, 'invalid_utf8'],
          [4, 'ok3', null],
        ],
      );
    }
  });
});
