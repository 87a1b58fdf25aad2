import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser } from '../src/sse.ts';

test('SSE parser: frames with id/event/data, comments skipped, an id-only frame kept', () => {
  const p = new SseParser();
  const frames = p.push('retry: 1000\n: logsrv tail\n\nid: 1-0\nevent: event\ndata: {"a":1}\n\n: keep-alive\n\nid: 5-2\n\nevent: end\ndata: {"id":"1-0"}\n\n');
  assert.deepEqual(frames, [
    { id: '1-0', event: 'event', data: '{"a":1}' },
    { id: '5-2', event: 'message', data: '' },
    { id: undefined, event: 'end', data: '{"id":"1-0"}' },
  ]);
});

test('SSE parser: any split of the stream into chunks gives the same frames, with CRLF, CR and LF line ends', () => {
  const text = 'id: 7-1\r\nevent: event\r\ndata: first\r\ndata:second\r\n\r\nid: 7-2\revent: lagged\rdata: {"lastId":"7-1"}\r\rdata: x\n\n';
  const want = [
    { id: '7-1', event: 'event', data: 'first\nsecond' },
    { id: '7-2', event: 'lagged', data: '{"lastId":"7-1"}' },
    { id: undefined, event: 'message', data: 'x' },
  ];
  for (let cut = 0; cut <= text.length; cut++) {
    const p = new SseParser();
    assert.deepEqual([...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))], want, `cut at ${cut}`);
  }
  const p = new SseParser();
  const one: unknown[] = [];
  for (const ch of text) one.push(...p.push(ch));
  assert.deepEqual(one, want, 'one character at a time');
});

test('SSE parser: an unfinished frame waits for its blank line', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('id: 1-0\nevent: event\ndata: {}\n'), []);
  assert.deepEqual(p.push('\n'), [{ id: '1-0', event: 'event', data: '{}' }]);
});
