import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SseMessage } from '../src/index.js';
import { SseParser } from '../src/index.js';

function parse(chunks: (string | Uint8Array)[]): { messages: SseMessage[]; parser: SseParser } {
  const messages: SseMessage[] = [];
  const parser = new SseParser((m) => messages.push(m));
  for (const c of chunks) parser.push(c);
  return { messages, parser };
}

describe('SSE parser', () => {
  const cases: [string, string[], SseMessage[]][] = [
    ['an event frame', ['id: 1-0\nevent: event\ndata: {"a":1}\n\n'], [{ event: 'event', data: '{"a":1}', lastEventId: '1-0' }]],
    ['CRLF line ends', ['id: 1-0\r\nevent: end\r\ndata: x\r\n\r\n'], [{ event: 'end', data: 'x', lastEventId: '1-0' }]],
    ['CR line ends', ['data: a\rdata: b\r\r'], [{ event: 'message', data: 'a\nb', lastEventId: '' }]],
    ['a CRLF split between chunks', ['data: a\r', '\n\r', '\n'], [{ event: 'message', data: 'a', lastEventId: '' }]],
    ['a frame split anywhere', ['i', 'd: 7', '-1\nev', 'ent: e', 'vent\ndata', ': v\n', '\n'], [{ event: 'event', data: 'v', lastEventId: '7-1' }]],
    ['comments and heartbeats', [': keep-alive\n\n: x\ndata: d\n\n'], [{ event: 'message', data: 'd', lastEventId: '' }]],
    ['no space after the colon', ['data:x\n\n'], [{ event: 'message', data: 'x', lastEventId: '' }]],
    ['only one leading space is removed', ['data:  x\n\n'], [{ event: 'message', data: ' x', lastEventId: '' }]],
    ['a field without a colon', ['data\n\n'], [{ event: 'message', data: '', lastEventId: '' }]],
    ['unknown fields are ignored', ['foo: bar\ndata: y\n\n'], [{ event: 'message', data: 'y', lastEventId: '' }]],
    [
      'an id with NUL is ignored',
      ['id: 1\ndata: a\n\nid: 2\u00003\ndata: b\n\n'],
      [
        { event: 'message', data: 'a', lastEventId: '1' },
        { event: 'message', data: 'b', lastEventId: '1' },
      ],
    ],
    [
      'the event type resets after each dispatch',
      ['event: end\ndata: 1\n\ndata: 2\n\n'],
      [
        { event: 'end', data: '1', lastEventId: '' },
        { event: 'message', data: '2', lastEventId: '' },
      ],
    ],
    ['a leading BOM is dropped', ['\ufeffdata: z\n\n'], [{ event: 'message', data: 'z', lastEventId: '' }]],
    ['an unfinished frame is not dispatched', ['data: never\n'], []],
  ];
  for (const [name, chunks, want] of cases) {
    test(`parses ${name}`, () => {
      assert.deepEqual(parse(chunks).messages, want);
    });
  }

  test('keeps a UTF-8 character split across byte chunks whole', () => {
    const bytes = Buffer.from('data: h\u00e9llo \u{1f600}\n\n');
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
    assert.deepEqual(parse(chunks).messages, [{ event: 'message', data: 'h\u00e9llo \u{1f600}', lastEventId: '' }]);
  });

  test('an id-only frame moves the resume point without an event; a frame still being read does not', () => {
    const { messages, parser } = parse(['id: 5-0\n\n']);
    assert.deepEqual(messages, []);
    assert.equal(parser.lastEventId, '5-0');
    parser.push('id: 6-0\nevent: event\n');
    assert.equal(parser.lastEventId, '5-0', 'the id of an unfinished frame is not in force yet');
    parser.push('data: {}\n\n');
    assert.equal(parser.lastEventId, '6-0');
  });

  test('reads the retry hint', () => {
    const { parser } = parse(['retry: 1000\n\nretry: soon\n\n']);
    assert.equal(parser.retryMs, 1000);
  });
});
