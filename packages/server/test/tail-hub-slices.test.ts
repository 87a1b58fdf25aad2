/**
 * The hub's sliced fan-out (tail/hub.ts): a flush to thousands of clients is written a slice of
 * sockets per turn of the event loop. Commits arriving meanwhile wait for the next flush, so
 * every client still gets every frame once and in id order; a tail attached mid-flush gets only
 * what follows the watermark it attached at.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import { LocalCommitFeed, TailHub } from '@logsrv/server';

/** A response that only collects what is written to it. */
class FakeResponse extends EventEmitter {
  readonly headersSent = false;
  readonly useChunkedEncodingByDefault = false;
  readonly socket = null;
  readonly writableLength = 0;
  closed = false;
  text = '';
  write(b: Buffer | string): boolean {
    this.text += b.toString();
    return true;
  }
  end(b?: string): void {
    if (b) this.text += b;
    this.closed = true;
    this.emit('close');
  }
  destroy(): void {
    this.end();
  }
}

function event(value: string): NormalizedEvent {
  const n = null;
  return { session: 's', key: 'stdout', value, vjson: 0, ts: n, component: n, user: n, terminal: n, step: n, level: n, attrs: n, producer: n, pseq: n };
}

function commit(feed: LocalCommitFeed, ms: number, values: string[]): string[] {
  feed.emit({
    entries: [],
    shard: 0,
    stored: { events: values.map(event), ms: Float64Array.from(values, () => ms), seq: Float64Array.from(values, (_, i) => i) },
  });
  return values.map((_, i) => `${ms}-${i}`);
}

const ids = (text: string) => [...text.matchAll(/^id: (\S+)$/gm)].map((m) => m[1]);
const turn = () => new Promise((r) => setImmediate(r));

test('a flush to 3000 clients is written in slices; a commit meanwhile and a tail attached meanwhile lose and repeat nothing', async () => {
  const feed = new LocalCommitFeed();
  const hub = new TailHub({ maxClients: 5000, clientBufferBytes: 1 << 20, heartbeatMs: 3_600_000, lastId: null, feed });
  try {
    const res = Array.from({ length: 3000 }, () => new FakeResponse());
    for (const r of res) hub.attach({ session: 's' }, r as unknown as ServerResponse, 'now').client.goLive(null);
    const a = commit(feed, 1000, ['a0', 'a1', 'a2']);
    let got = 0;
    for (let i = 0; i < 1000 && got === 0; i++) {
      await turn();
      got = res.filter((r) => r.text !== '').length;
    }
    assert.ok(got > 0 && got < res.length, `mid-flush: ${got} of ${res.length} clients written`);
    const b = commit(feed, 1001, ['b0', 'b1']);
    const late = new FakeResponse();
    const attached = hub.attach({ session: 's' }, late as unknown as ServerResponse, 'now');
    assert.deepEqual(attached.until, { ms: 1000, seq: 2 }, 'the watermark is past the flush being written');
    attached.client.goLive(attached.until);
    // The next flush starts within the hub's write budget (3000 clients: >= 60 ms after the first),
    // so this waits by the clock, not by a count of turns (up to 5 s: a bound, not a speed goal).
    const until = Date.now() + 5000;
    while (Date.now() < until && !res.every((r) => ids(r.text).length === 5)) await new Promise((r) => setTimeout(r, 5));
    for (const r of res) assert.deepEqual(ids(r.text), [...a, ...b]);
    assert.deepEqual(ids(late.text), b);
  } finally {
    await hub.close();
  }
});
