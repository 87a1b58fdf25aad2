/**
 * The raw backlog keeps read order across memory and its overflow file, and the capture turns
 * chunks into the same events whether they were split at once or later at the sender's pace.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { HttpSender } from '@logsrv/client';
import { OutputBacklog, sweepBacklogs } from '../src/output-backlog.ts';
import { OutputCapture } from '../src/output-capture.ts';

const dirs: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'logsrv-backlog-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A sender stand-in: records the stamped events (checking producer and seq, then dropping them); `queuedBytes` is what the test says. */
function fakeSender() {
  const sent: Record<string, unknown>[] = [];
  const s = {
    queued: 0,
    sent,
    nextSeq: 0,
    producerJsonText: '"p"',
    get queuedBytes() {
      return s.queued;
    },
    sendStamped(ndjson: Buffer, count: number) {
      const lines = ndjson.toString().split('\n');
      assert.equal(lines.pop(), '', 'whole lines');
      assert.equal(lines.length, count);
      for (const l of lines) {
        const { producer, seq, ...e } = JSON.parse(l);
        assert.equal(producer, 'p');
        assert.equal(seq, s.nextSeq++);
        sent.push(e);
      }
    },
  };
  return s;
}

describe('OutputBacklog', () => {
  test('entries come back in push order across memory and the overflow file, which is deleted once read', () => {
    const d = dir();
    const b = new OutputBacklog(d, 10);
    const pushed: [number, number, string | null][] = [];
    for (let i = 0; i < 20; i++) {
      const data = i % 5 === 4 ? null : `chunk ${i}`;
      b.push(i % 2, 1000 + i, data === null ? null : Buffer.from(data));
      pushed.push([i % 2, 1000 + i, data]);
    }
    assert.equal(readdirSync(d).length, 1, 'overflow file in use');
    const got: [number, number, string | null][] = [];
    for (let e = b.shift(); e; e = b.shift()) got.push([e.stream, e.ts, e.data?.toString() ?? null]);
    assert.deepEqual(got, pushed);
    assert.equal(b.empty, true);
    assert.deepEqual(readdirSync(d), []);
    b.push(0, 1, Buffer.from('again'));
    assert.equal(b.shift()?.data?.toString(), 'again');
  });
});

test('without a usable file the backlog keeps entries in memory, in order, and says when it is full', () => {
  const d = dir();
  const notDir = join(d, 'file');
  writeFileSync(notDir, 'x');
  const b = new OutputBacklog(join(notDir, 'sub'), 10);
  for (let i = 0; i < 5; i++) b.push(0, i, Buffer.from(`chunk ${i}`));
  assert.equal(b.full, true);
  assert.match(b.unusable ?? '', /ENOTDIR/);
  const got: string[] = [];
  for (let e = b.shift(); e; e = b.shift()) got.push(e.data?.toString() ?? '');
  assert.deepEqual(got, ['chunk 0', 'chunk 1', 'chunk 2', 'chunk 3', 'chunk 4']);
  assert.equal(b.full, false);
});

test('sweepBacklogs removes the backlog files of processes that are gone, and only those', () => {
  const d = dir();
  writeFileSync(join(d, `backlog-${process.pid}-1.bin`), 'mine');
  writeFileSync(join(d, 'backlog-999999999-1.bin'), 'dead');
  writeFileSync(join(d, 'other.json'), '{}');
  sweepBacklogs(d);
  assert.deepEqual(readdirSync(d).sort(), [`backlog-${process.pid}-1.bin`, 'other.json']);
});

describe('OutputCapture', () => {
  test('while the sender is full, chunks of both streams wait raw and become the same events later, in read order', async () => {
    const sender = fakeSender();
    const capture = new OutputCapture(sender as unknown as HttpSender, { session: 's' }, 1 << 20, dir());
    const out = new PassThrough();
    const err = new PassThrough();
    const a = capture.add(out, null, 'stdout');
    const b = capture.add(err, null, 'stderr');
    out.write('o1\no');
    await new Promise((r) => setImmediate(r));
    sender.queued = 10 << 20; // the sender is backed up: later chunks wait
    out.write('2\n');
    await new Promise((r) => setImmediate(r));
    err.write('e1\n');
    await new Promise((r) => setImmediate(r));
    out.write('o3\n');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      sender.sent.map((e) => e.value),
      ['o1'],
    );
    sender.queued = 0;
    capture.onSenderProgress();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      sender.sent.map((e) => `${e.key}:${e.value}`),
      ['stdout:o1', 'stdout:o2', 'stderr:e1', 'stdout:o3'],
    );
    out.end('tail');
    err.end();
    await Promise.all([a.done, b.done]);
    await capture.finish(() => false);
    assert.deepEqual(sender.sent.at(-1), { session: 's', key: 'stdout', value: 'tail', ts: sender.sent.at(-1)?.ts });
  });

  test('after the command, finish makes more events on a later turn than the acknowledgement that made room, so the next request goes out first', async () => {
    const sender = fakeSender();
    const capture = new OutputCapture(sender as unknown as HttpSender, { session: 's' }, 1 << 20, dir());
    const out = new PassThrough();
    const a = capture.add(out, null, 'stdout');
    sender.queued = 10 << 20; // backed up: every chunk waits raw
    for (let i = 0; i < 10; i++) out.write(`line ${i}\n`);
    out.end();
    await a.done;
    const finished = capture.finish(() => false);
    await new Promise((r) => setImmediate(r));
    assert.equal(sender.sent.length, 0, 'nothing made while the sender is full');
    sender.queued = 0;
    capture.onSenderProgress(); // as the sender's pump calls it, just before it takes its next batch
    for (let i = 0; i < 20; i++) await Promise.resolve();
    assert.equal(sender.sent.length, 0, 'no events made within the acknowledgement');
    await new Promise((r) => setImmediate(r));
    assert.equal(sender.sent.length, 10);
    await finished;
    assert.equal(sender.sent[9]?.value, 'line 9');
  });

  test('finish gives everything to the sender at once when it has to give up', async () => {
    const sender = fakeSender();
    const capture = new OutputCapture(sender as unknown as HttpSender, { session: 's' }, 1 << 20, dir());
    const out = new PassThrough();
    const a = capture.add(out, null, 'stdout');
    sender.queued = 10 << 20;
    for (let i = 0; i < 100; i++) out.write(`line ${i}\n`);
    out.end();
    await a.done;
    assert.equal(sender.sent.length, 0);
    await capture.finish(() => true);
    assert.equal(sender.sent.length, 100);
    assert.equal(sender.sent[99]?.value, 'line 99');
  });

  test('the sender backed up and no backlog file: the source is paused at the memory bound, nothing is lost, and it resumes as the sender takes lines', async () => {
    const sender = fakeSender();
    const d = dir();
    writeFileSync(join(d, 'file'), 'x');
    const told: string[] = [];
    const capture = new OutputCapture(sender as unknown as HttpSender, { session: 's' }, 1 << 20, join(d, 'file', 'sub'), (m) => told.push(m));
    const out = new PassThrough({ highWaterMark: 64 * 1024 });
    const a = capture.add(out, null, 'stdout');
    sender.queued = 10 << 20;
    const line = `${'x'.repeat(99)}\n`;
    const chunk = line.repeat(655); // ~64 KiB, like a pipe read
    let written = 0;
    // Writes until the capture stops reading (the PassThrough fills up), like a command blocking on its pipe.
    while (written < 200 && out.write(chunk)) {
      written++;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(out.isPaused(), 'the source is paused');
    assert.ok(written * chunk.length < 8 << 20, `${written} chunks read before the pause: memory is bounded near 4 MiB`);
    assert.equal(told.length, 1);
    assert.match(told[0] ?? '', /backlog file cannot be written/);
    // The sender catches up: reading resumes; the rest of the output follows.
    sender.queued = 0;
    const rest = 100;
    const drainedAll = (async () => {
      for (let i = 0; i < rest; i++) if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      out.end();
    })();
    const pump = setInterval(() => capture.onSenderProgress(), 1);
    await drainedAll;
    await a.done;
    clearInterval(pump);
    await capture.finish(() => false);
    const lines = sender.sent.length;
    // The writer's first refused write was still queued in the PassThrough: it counts too.
    assert.equal(lines, (written + 1 + rest) * 655);
    assert.ok(sender.sent.every((e) => e.value === 'x'.repeat(99)));
  });

  test('a quiet period while chunks wait is kept as a marker: the unfinished line is sent at the same point', async () => {
    const sender = fakeSender();
    const capture = new OutputCapture(sender as unknown as HttpSender, { session: 's' }, 1 << 20, dir());
    const out = new PassThrough();
    const a = capture.add(out, null, 'stdout');
    sender.queued = 10 << 20;
    out.write('Password: ');
    await new Promise((r) => setTimeout(r, 300)); // longer than PARTIAL_FLUSH_MS
    out.write('ok\n');
    out.end();
    await a.done;
    sender.queued = 0;
    await capture.finish(() => false);
    assert.deepEqual(
      sender.sent.map((e) => [e.value, e.attrs ?? null]),
      [
        ['Password: ', { partial: true }],
        ['ok', null],
      ],
    );
  });

  test('the agent held up past the quiet period with the rest of the line already in the pipe: the line stays whole', async () => {
    // A real socket, so the rest arrives through the event loop's poll like a pipe's, after the
    // timers: this process is blocked for longer than PARTIAL_FLUSH_MS while it waits unread.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const writer = connect((server.address() as { port: number }).port, '127.0.0.1');
    const reader = await accepted;
    const sender = fakeSender();
    const capture = new OutputCapture(sender as unknown as HttpSender, { session: 's' }, 1 << 20, dir());
    const a = capture.add(reader, null, 'stdout');
    const first = new Promise((r) => reader.once('data', r));
    writer.write('abc');
    await first;
    writer.write('def\n');
    const until = Date.now() + 400; // longer than PARTIAL_FLUSH_MS, all of it without a turn of the loop
    while (Date.now() < until) {}
    await new Promise((r) => setTimeout(r, 50));
    writer.end();
    await a.done;
    await capture.finish(() => false);
    server.close();
    assert.deepEqual(
      sender.sent.map((e) => [e.value, e.attrs ?? null]),
      [['abcdef', null]],
    );
  });
});
