/** Events written as bytes are the JSON that JSON.stringify would give, stamped with consecutive seqs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventWriter, writeDigits } from '../src/output-events.ts';

function collector() {
  const blocks: { text: string; count: number }[] = [];
  const s = {
    nextSeq: 7,
    heldFromSeq: 0,
    sendStamped(ndjson: Buffer, count: number) {
      blocks.push({ text: ndjson.toString(), count });
      s.nextSeq += count;
    },
  };
  return { s, blocks };
}

test('a line written from bytes is byte for byte what JSON.stringify gives its text; seqs follow the sender', () => {
  const { s, blocks } = collector();
  const w = new EventWriter(s);
  const head = EventWriter.head('{"session":"s","key":"stdout"', 123, '"p"');
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '\x00\x1b[31m\x7f\t\r\b\f')), {
        maxLength: 5,
      }),
      (parts) => {
        // Lone surrogates cannot come from UTF-8 bytes: the writer's input is valid UTF-8.
        const text = Buffer.from(parts.join('')).toString();
        const src = Buffer.from(`xx${text}yy`);
        const before = s.nextSeq;
        w.line(head, src, 2, src.length - 2);
        w.text(head, text, 'partial');
        w.flush();
        const b = blocks.at(-1) as { text: string; count: number };
        assert.equal(b.count, 2);
        const seq = before;
        assert.equal(
          b.text,
          `{"session":"s","key":"stdout","ts":123,"producer":"p","seq":${seq},"value":${JSON.stringify(text)}}\n` +
            `{"session":"s","key":"stdout","ts":123,"producer":"p","seq":${seq + 1},"value":${JSON.stringify(text)},"attrs":{"partial":true}}\n`,
        );
      },
    ),
    { numRuns: 2000 },
  );
});

test('lines over the slab size move to a bigger slab without losing what was written before', () => {
  const { s, blocks } = collector();
  const w = new EventWriter(s);
  const head = EventWriter.head('{"session":"s","key":"stdout"', 1, '"p"');
  const small = Buffer.from('small');
  const big = Buffer.alloc(3 * 1024 * 1024, 'x');
  w.line(head, small, 0, small.length);
  w.line(head, big, 0, big.length);
  w.flush();
  const lines = (blocks[0]?.text ?? '').split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).value.length),
    [5, big.length],
  );
});

test('seq digits are written as String(n) writes them, at every length', () => {
  const cases = [0, 1, 9, 10, 11, 99, 100, 101, 999_999, 1_000_000, 2 ** 31, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];
  for (let p = 1; p <= 1e15; p *= 10) cases.push(p - 1, p, p + 1);
  const out = Buffer.alloc(40, 0x2e);
  for (const n of cases) {
    out.fill(0x2e);
    const end = writeDigits(out, 3, n);
    assert.equal(out.toString('latin1', 0, end + 1), `...${n}.`, `n = ${n}`);
  }
});

test('a full slab is written again only after the sender let go of every event in it', () => {
  // A sender that holds blocks (as HttpSender does until they are acknowledged) and lets them go
  // in order, a few at a time; each block must still read as it did when handed over.
  const held: { block: Buffer; copy: string; end: number }[] = [];
  const slabs = new Set<ArrayBufferLike>();
  let released = 0;
  const s = {
    nextSeq: 0,
    heldFromSeq: 0,
    sendStamped(block: Buffer, count: number) {
      s.nextSeq += count;
      held.push({ block, copy: block.toString('latin1'), end: s.nextSeq });
      slabs.add(block.buffer);
    },
  };
  const w = new EventWriter(s);
  const head = EventWriter.head('{"session":"s","key":"stdout"', 1, '"p"');
  const line = Buffer.from('x'.repeat(300));
  for (let i = 0; i < 40_000; i++) {
    w.line(head, line, 0, 50 + (i % 250));
    if (i % 7 === 0) w.flush();
    // The sender lets go of its oldest blocks while it holds more than ~3 MB.
    let bytes = held.reduce((n, h) => n + h.block.length, 0);
    while (bytes > 3_000_000) {
      const h = held.shift() as (typeof held)[number];
      assert.equal(h.block.toString('latin1'), h.copy, 'a held block was overwritten');
      bytes -= h.block.length;
      s.heldFromSeq = h.end;
      released++;
    }
  }
  w.flush();
  for (const h of held) assert.equal(h.block.toString('latin1'), h.copy, 'a held block was overwritten');
  assert.ok(released > 1000);
  // ~15 MB written: without reuse that is 15 slabs; the sender holds at most ~4 at a time.
  assert.ok(slabs.size <= 9, `${slabs.size} slabs used`);
});
