/**
 * The live hub's delivery timing for a small hub: a commit's frames are written to the tail's
 * socket inside the commit feed's listener while flushes are cheap, and on the same turn of the
 * event loop (before any timer) after a costly one (a big batch), which used to push the next
 * commits onto a paced timer.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { NormalizedEvent } from '@logsrv/protocol';
import { LocalCommitFeed } from '../src/queue/commit-feed.ts';
import { TailHub } from '../src/tail/hub.ts';
import { ev } from './contract/events.ts';

/** Just what TailClient uses of a live, unchunked SSE response; the socket keeps what is written. */
function fakeResponse(): { res: ServerResponse; written: () => string } {
  const chunks: Buffer[] = [];
  const socket = Object.assign(new EventEmitter(), {
    write(b: Buffer | string) {
      chunks.push(Buffer.from(b));
      return true;
    },
  });
  const res = Object.assign(new EventEmitter(), {
    headersSent: true,
    useChunkedEncodingByDefault: false,
    socket,
    writableLength: 0,
    closed: false,
    write(b: Buffer | string) {
      chunks.push(Buffer.from(b));
      return true;
    },
    end(b?: Buffer | string) {
      if (b !== undefined) chunks.push(Buffer.from(b));
      res.closed = true;
      res.emit('close');
    },
    destroy() {
      res.end();
    },
  });
  return { res: res as unknown as ServerResponse, written: () => Buffer.concat(chunks).toString('utf8') };
}

function commit(feed: LocalCommitFeed, session: string, from: number, n: number): void {
  const events: NormalizedEvent[] = [];
  const ms = new Float64Array(n);
  const seq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    events.push(ev(session, `line ${from + i} ${'x'.repeat(200)}`));
    ms[i] = 1_780_000_000_000;
    seq[i] = from + i;
  }
  feed.emit({ entries: [], stored: { events, ms, seq }, shard: 0 });
}

test('a hub with few clients writes a commit to the socket at once, and on the same turn after a costly flush', async () => {
  const feed = new LocalCommitFeed();
  const hub = new TailHub({ maxClients: 10, clientBufferBytes: 64 * 1024 * 1024, heartbeatMs: 3_600_000, lastId: null, feed });
  try {
    const { res, written } = fakeResponse();
    const { client } = hub.attach({ session: 's' }, res, 'now');
    client.goLive(null);
    // 20,000 events of ~250 bytes: a flush of many milliseconds, far over any pacing threshold.
    commit(feed, 's', 0, 5000);
    assert.equal(written().split('event: event\n').length - 1, 5000, 'the big commit is written at once');
    for (let k = 0; k < 5; k++) {
      const before = written().length;
      commit(feed, 's', 5000 + k, 1);
      await new Promise((r) => setImmediate(r));
      const added = written().slice(before);
      assert.match(added, new RegExp(`^id: 1780000000000-${5000 + k}\nevent: event\ndata: .*"value":"line ${5000 + k} x+"`), `commit ${k} after the big one`);
    }
    // Other sessions' commits write nothing to this tail.
    const before = written().length;
    commit(feed, 'other', 9000, 3);
    assert.equal(written().length, before);
  } finally {
    await hub.close();
  }
});
