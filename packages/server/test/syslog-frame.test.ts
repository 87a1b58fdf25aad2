import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SyslogFramer } from '../src/ingest/syslog/frame-tcp.ts';

function frames(chunks: Buffer[], max = 1024): { frames: string[]; oversize: number } {
  const out: string[] = [];
  let oversize = 0;
  let truncated = 0;
  const f = new SyslogFramer(
    max,
    (b) => out.push(b.toString('utf8')),
    (why) => (why === 'too_large' ? oversize++ : truncated++),
  );
  for (const c of chunks) f.push(c);
  f.end();
  return truncated > 0 ? { frames: out, oversize, truncated } : { frames: out, oversize };
}

function cut(buf: Buffer, at: number[]): Buffer[] {
  const points = [...new Set([0, ...at.filter((n) => n > 0 && n < buf.length), buf.length])].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  for (let i = 1; i < points.length; i++) parts.push(buf.subarray(points[i - 1], points[i]));
  return parts;
}

const octet = (m: string) => `${Buffer.byteLength(m)} ${m}`;

describe('syslog TCP framing (RFC 6587)', () => {
  test('octet-counted frames may hold newlines; newline frames end at LF (CR dropped); both mix in one stream', () => {
    const stream = `${octet('<13>1 - h a - - - two\nlines')}${octet('<13>x')}<14>plain one\r\n<14>plain two\n${octet('<13>é')}`;
    assert.deepEqual(frames([Buffer.from(stream)]).frames, ['<13>1 - h a - - - two\nlines', '<13>x', '<14>plain one', '<14>plain two', '<13>é']);
  });
  test('the last newline frame needs no LF; a cut octet-counted frame is reported, not emitted', () => {
    assert.deepEqual(frames([Buffer.from('<13>a\n<13>b')]), { frames: ['<13>a', '<13>b'], oversize: 0 });
    assert.deepEqual(frames([Buffer.from('<13>a\n20 <13>cut')]), { frames: ['<13>a'], oversize: 0, truncated: 1 });
  });
  test('frames over the limit are skipped whole and counted, the next frame is intact', () => {
    const big = `<13>${'x'.repeat(100)}`;
    assert.deepEqual(frames([Buffer.from(`${octet(big)}${octet('<13>ok')}`)], 50), { frames: ['<13>ok'], oversize: 1 });
    assert.deepEqual(frames([Buffer.from(`${big}\n<13>ok\n`)], 50), { frames: ['<13>ok'], oversize: 1 });
    // a long line arriving in pieces is dropped without holding it
    assert.deepEqual(frames([Buffer.from(big.slice(0, 60)), Buffer.from(big.slice(60)), Buffer.from('\n<13>ok\n')], 50), { frames: ['<13>ok'], oversize: 1 });
  });

  test('fuzz: any mix of framings, cut anywhere, gives the same frames as one piece', () => {
    const msg = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).map((s) => `<13>${s}`);
    const framed = fc
      .tuple(msg, fc.boolean())
      .map(([m, counted]) =>
        counted
          ? { m, text: octet(m) }
          : { m: m.replace(/[\r\n]/g, ' ').replace(/ +$/, '') || '<13>', text: `${m.replace(/[\r\n]/g, ' ').replace(/ +$/, '') || '<13>'}\n` },
      );
    fc.assert(
      fc.property(fc.array(framed, { maxLength: 20 }), fc.array(fc.nat({ max: 2000 }), { maxLength: 30 }), (list, at) => {
        const buf = Buffer.from(list.map((f) => f.text).join(''));
        const want = list.map((f) => f.m);
        assert.deepEqual(frames(cut(buf, at)).frames, want);
      }),
      { numRuns: 1000 },
    );
  });

  test('fuzz: arbitrary bytes in arbitrary chunks never throw, and never yield a frame over the limit', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
        const out: Buffer[] = [];
        const f = new SyslogFramer(
          64,
          (b) => out.push(b),
          () => {},
        );
        for (const c of chunks) f.push(Buffer.from(c));
        f.end();
        for (const b of out) assert.ok(b.length <= 64 && b.length > 0);
      }),
      { numRuns: 2000 },
    );
  });
});
