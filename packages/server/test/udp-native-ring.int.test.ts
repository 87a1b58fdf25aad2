/**
 * The native UDP reader's ring (native/udp_recv.c): its reading thread moves datagrams from the
 * socket into a ring while the JavaScript thread is busy, and the JavaScript thread takes them from
 * there. Driven through the addon's own API with a real socket: the JavaScript thread is held in
 * execFileSync while a child process sends, so the reading thread alone reads.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { kernelUdpDrops } from '../src/ingest/udp-ingest.ts';
import { ADDR_BYTES, loadNativeUdp, type NativeReader } from '../src/ingest/udp-native.ts';

const { native, why } = loadNativeUdp();
const linux = process.platform === 'linux';

/** Datagram `i`: its number, then filler, 20 to ~300 bytes long (the lengths vary, so records wrap the ring at every offset). */
function payload(i: number): string {
  return `${i} ${'x'.repeat((i * 37) % 283)}`;
}

/** Sends datagrams `from..to-1` to `port` from a child process; returns when all are sent (this thread is blocked meanwhile). */
function sendBlocking(port: number, from: number, to: number, extra = ''): void {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const payload = ${payload.toString()};
    const send = (i) => {
      if (i === ${to}) { ${extra ? `s.send(${JSON.stringify(extra)}, ${port}, '127.0.0.1', () => s.close());` : 's.close();'} return; }
      s.send(payload(i), ${port}, '127.0.0.1', () => (i % 200 === 199 ? setTimeout(() => send(i + 1), 2) : send(i + 1)));
    };
    send(${from});`;
  execFileSync(process.execPath, ['-e', script], { stdio: 'inherit' });
}

interface Opened {
  reader: NativeReader;
  port: number;
  got: { i: number; text: string; len: number; v4: boolean }[];
}

function open(slotBytes: number, ringBytes: number): Opened {
  const n = native as NonNullable<typeof native>;
  const slots = 32;
  const data = Buffer.alloc(slots * slotBytes);
  const lens = new Int32Array(slots);
  const addrs = new Uint8Array(slots * ADDR_BYTES);
  const got: Opened['got'] = [];
  const reader = n.open(
    false,
    '127.0.0.1',
    0,
    4 * 1024 * 1024,
    slotBytes,
    data,
    lens,
    addrs,
    (count) => {
      for (let k = 0; k < count; k++) {
        const len = lens[k] as number;
        const text = data.toString('latin1', k * slotBytes, k * slotBytes + Math.min(len, slotBytes));
        got.push({ i: Number.parseInt(text, 10), text, len, v4: addrs[k * ADDR_BYTES] === 4 });
      }
    },
    ringBytes,
    0,
  );
  return { reader, port: n.localPort(reader), got };
}

/** Datagrams the kernel dropped on `port` (0 once the socket is gone). */
const kernelDrops = (port: number) => kernelUdpDrops(port) ?? 0;

const settle = () => new Promise((r) => setTimeout(r, 200));

describe(`native UDP reader: the ring${native ? '' : ` (skipped: ${linux ? why : 'recvmmsg is Linux-only'})`}`, { skip: native === null }, () => {
  test('datagrams read while the JavaScript thread is busy wait in the ring, whole and in order; a full ring is a counted drop', async () => {
    const n = native as NonNullable<typeof native>;
    // ~64 KiB: a few hundred of these datagrams, so 4,000 sent while this thread is held fill it.
    const o = open(512, 64 * 1024);
    try {
      sendBlocking(o.port, 0, 4000);
      await settle();
      const ringDrops = n.takeDrops(o.reader);
      const kernel = kernelDrops(o.port);
      assert.ok(ringDrops > 0, `the ring overflowed (delivered ${o.got.length}, kernel drops ${kernel})`);
      assert.equal(o.got.length + ringDrops + kernel, 4000, 'every datagram sent is delivered or counted');
      assert.equal(n.takeDrops(o.reader), 0, 'takeDrops resets the count');
      let prev = -1;
      for (const g of o.got) {
        assert.ok(g.i > prev, `in order: ${g.i} after ${prev}`);
        assert.equal(g.text, payload(g.i));
        assert.equal(g.len, Buffer.byteLength(payload(g.i)));
        assert.ok(g.v4, 'source address kept');
        prev = g.i;
      }
      // After a drain the ring takes datagrams again, from where it wrapped.
      o.got.length = 0;
      sendBlocking(o.port, 4000, 4100);
      await settle();
      assert.deepEqual(
        o.got.map((g) => g.i),
        Array.from({ length: 100 }, (_, k) => 4000 + k),
      );
    } finally {
      n.close(o.reader);
    }
  });

  test('a datagram longer than a slot keeps its real length and its first slot bytes', async () => {
    const n = native as NonNullable<typeof native>;
    const o = open(64, 64 * 1024);
    try {
      const long = `9 ${'y'.repeat(998)}`;
      sendBlocking(o.port, 0, 3, long);
      await settle();
      assert.deepEqual(
        o.got.map((g) => g.len),
        [...[0, 1, 2].map((i) => Buffer.byteLength(payload(i))), 1000],
      );
      assert.equal(o.got[3]?.text, long.slice(0, 64));
    } finally {
      n.close(o.reader);
    }
  });

  test('close() hands over what the ring holds before it returns', () => {
    const n = native as NonNullable<typeof native>;
    const o = open(512, 4 * 1024 * 1024);
    sendBlocking(o.port, 0, 2000);
    // No turn of the event loop since the sends: everything read is still in the ring.
    assert.equal(o.got.length, 0);
    const kernel = kernelDrops(o.port);
    n.close(o.reader);
    assert.equal(o.got.length + kernel, 2000);
    assert.deepEqual(
      o.got.map((g) => g.i),
      Array.from({ length: o.got.length }, (_, k) => k),
    );
    n.close(o.reader); // idempotent
  });
});
