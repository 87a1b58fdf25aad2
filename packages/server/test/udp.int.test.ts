import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { UdpIngest } from '../dist/ingest/udp-ingest.js';
import { createMetrics } from '../dist/metrics.js';
import { MemoryQueue } from '../dist/queue/memory-queue.js';
import type { TestServer } from './helpers.ts';
import { readAll, startTestServer } from './helpers.ts';

/**
 * Sends in groups of `perTick` with a pause between. The server runs in this same process, so the
 * pause is what lets its socket be read (libuv reads a bounded number of datagrams per turn);
 * this keeps the offered rate moderate (~20k/s at the default).
 */
async function sendAll(port: number, datagrams: (string | Buffer)[], perTick = 50): Promise<void> {
  const s = createSocket('udp4');
  try {
    for (let i = 0; i < datagrams.length; i += perTick) {
      await Promise.all(
        datagrams.slice(i, i + perTick).map((d) => new Promise<void>((res, rej) => s.send(d, port, '127.0.0.1', (err) => (err ? rej(err) : res())))),
      );
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    s.close();
  }
}

async function counters(srv: TestServer): Promise<Record<string, number>> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(logsrv_(?:received|accepted|dropped)_total)\{transport="udp"(?:,reason="([a-z0-9_]+)")?\} (\d+)/gm)) {
    out[m[2] ? `${m[1]}:${m[2]}` : (m[1] as string)] = Number(m[3]);
  }
  return out;
}

/** Waits until `check` passes or the deadline runs out (UDP has no acknowledgement to wait for). */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ev = (session: string, value: unknown) => JSON.stringify({ session, key: 'k', value });

/**
 * Both ways of reading the socket go through the same tests: `auto` (the native recvmmsg reader,
 * where it is built: Linux) and `dgram` (node:dgram, its fallback).
 */
for (const reader of ['auto', 'dgram'] as const) {
  describe(`UDP ingest (--udp-reader ${reader})`, () => {
    test('valid, invalid, oversized and multi-line datagrams: valid events stored, the rest counted by reason', async () => {
      const srv = await startTestServer({ udpReader: reader, maxDatagramBytes: 1024 });
      try {
        assert.equal(typeof srv.udpPort, 'number');
        await sendAll(srv.udpPort as number, [
          ev('udp1', 1),
          `${ev('udp1', 2)}\n${ev('udp1', 3)}\n\n${ev('udp1', 4)}\n`,
          `${ev('udp1', 5)}\n{broken\n${JSON.stringify({ session: 'udp1', key: 'k' })}`,
          JSON.stringify({ session: 'udp1', key: 'k', value: 'x'.repeat(2000) }),
          Buffer.from([0x7b, 0xff, 0x7d]),
          JSON.stringify({ key: 'k', value: 1 }),
        ]);
        await eventually(async () => (await readAll(srv.url, 'udp1')).length === 5);
        assert.deepEqual(
          (await readAll(srv.url, 'udp1')).map((e) => e.value),
          [1, 2, 3, 4, 5],
        );
        await eventually(async () => (await counters(srv))['logsrv_dropped_total:unresolved_session'] === 1);
        const c = await counters(srv);
        assert.equal(c.logsrv_accepted_total, 5);
        assert.equal(c['logsrv_dropped_total:invalid_json'], 1);
        assert.equal(c['logsrv_dropped_total:missing_field'], 1);
        assert.equal(c['logsrv_dropped_total:datagram_too_large'], 1);
        assert.equal(c['logsrv_dropped_total:invalid_utf8'], 1);
        assert.equal(c['logsrv_dropped_total:unresolved_session'], 1);
      } finally {
        await srv.dispose();
      }
    });

    test('a line of invalid UTF-8 drops only itself: the valid lines of its datagram are stored', async () => {
      const srv = await startTestServer({ udpReader: reader });
      try {
        const mixed = Buffer.concat([
          Buffer.from(`${ev('udp-mixed', 1)}\n`),
          Buffer.from('{"session":"udp-mixed","key":"k","value":"'),
          Buffer.from([0xc3, 0x28, 0xff]),
          Buffer.from('"}\n'),
          Buffer.from(`${ev('udp-mixed', 'é, ✓')}\n${ev('udp-mixed', 3)}`),
        ]);
        await sendAll(srv.udpPort as number, [mixed]);
        await eventually(async () => (await readAll(srv.url, 'udp-mixed')).length === 3);
        assert.deepEqual(
          (await readAll(srv.url, 'udp-mixed')).map((e) => e.value),
          [1, 'é, ✓', 3],
        );
        await eventually(async () => (await counters(srv))['logsrv_dropped_total:invalid_utf8'] === 1);
        const c = await counters(srv);
        assert.equal(c.logsrv_accepted_total, 3);
      } finally {
        await srv.dispose();
      }
    });

    test('loss accounting at a moderate rate: sent = stored + counted drops', async () => {
      const srv = await startTestServer({ udpReader: reader });
      try {
        const n = 20_000;
        const datagrams = Array.from({ length: n }, (_, i) => (i % 100 === 99 ? 'garbage' : ev(`acct${i % 7}`, i)));
        await sendAll(srv.udpPort as number, datagrams);
        const valid = n - n / 100;
        let stored = 0;
        let last = '';
        await eventually(async () => {
          const c = await counters(srv);
          const dropped = Object.entries(c)
            .filter(([k]) => k.startsWith('logsrv_dropped_total'))
            .reduce((a, [, v]) => a + v, 0);
          stored = c.logsrv_accepted_total ?? 0;
          last = `stored ${stored} + dropped ${dropped} of ${n}: ${JSON.stringify(c)}`;
          return stored + dropped === n;
        }, 10_000).catch((err) => {
          throw new Error(`${err.message}: ${last}`);
        });
        const c = await counters(srv);
        assert.equal(c['logsrv_dropped_total:invalid_json'], n / 100);
        // Nothing lost to the socket at this rate on loopback: every valid datagram was stored.
        assert.equal(stored, valid);
        let read = 0;
        for (let s = 0; s < 7; s++) read += (await readAll(srv.url, `acct${s}`)).length;
        assert.equal(read, valid);
      } finally {
        await srv.dispose();
      }
    });

    /** Every counted drop, whatever the reason: a burst may also fill the queue behind the socket. */
    const droppedTotal = (c: Record<string, number>) =>
      Object.entries(c)
        .filter(([k]) => k.startsWith('logsrv_dropped_total:'))
        .reduce((sum, [, v]) => sum + v, 0);

    test('a burst beyond the socket buffer is counted as socket_overflow: sent = stored + dropped still holds', async () => {
      const srv = await startTestServer({ udpReader: reader, udpRecvBufferBytes: 8192 });
      try {
        const n = 5000;
        // No pauses: the in-process receiver cannot keep up, so the kernel discards datagrams.
        await sendAll(
          srv.udpPort as number,
          Array.from({ length: n }, (_, i) => ev('burst', i)),
          1000,
        );
        let last = '';
        await eventually(async () => {
          const c = await counters(srv);
          last = JSON.stringify(c);
          return (c.logsrv_accepted_total ?? 0) + droppedTotal(c) === n;
        }, 10_000).catch((err) => {
          throw new Error(`${err.message}: ${last}`);
        });
        const c = await counters(srv);
        assert.ok((c['logsrv_dropped_total:socket_overflow'] ?? 0) > 0, last);
        assert.equal((await readAll(srv.url, 'burst')).length, c.logsrv_accepted_total);
      } finally {
        await srv.dispose();
      }
    });

    test('a full queue is a counted drop, never a stall', async () => {
      const srv = await startTestServer({ udpReader: reader, maxQueueEvents: 1, requestBatchEvents: 1 });
      try {
        const n = 3000;
        await sendAll(
          srv.udpPort as number,
          Array.from({ length: n }, (_, i) => ev('qf', i)),
        );
        await eventually(async () => {
          const c = await counters(srv);
          return (c.logsrv_accepted_total ?? 0) + (c['logsrv_dropped_total:queue_full'] ?? 0) === n;
        }, 10_000);
        const c = await counters(srv);
        assert.ok((c['logsrv_dropped_total:queue_full'] ?? 0) > 0, JSON.stringify(c));
        assert.equal((await readAll(srv.url, 'qf')).length, c.logsrv_accepted_total);
      } finally {
        await srv.dispose();
      }
    });
  });

  describe(`rate limits (--udp-reader ${reader})`, () => {
    test('HTTP over the limit gets 429 with Retry-After; UDP over it is a counted drop; both are in the blocked report', async () => {
      const srv = await startTestServer({ udpReader: reader, rateLimit: 5, rateLimitBurst: 5 });
      try {
        const codes: number[] = [];
        for (let i = 0; i < 20; i++) {
          const r = await fetch(`${srv.url}/v1/events`, { method: 'POST', body: ev('rl', i), headers: { 'content-type': 'application/x-ndjson' } });
          codes.push(r.status);
          if (r.status === 429) {
            assert.ok(Number(r.headers.get('retry-after')) >= 1);
            const body = (await r.json()) as any;
            assert.equal(body.error.code, 'LOGSRV_ERR_RATE_LIMITED');
            assert.match(body.error.message, /limit 5\/s \(--rate-limit\)/);
          } else await r.arrayBuffer();
        }
        const ok = codes.filter((c) => c === 200).length;
        assert.ok(ok >= 5 && ok <= 11, `allowed ${ok} of 20: ${codes.join(',')}`);
        assert.equal(codes.filter((c) => c === 429).length, 20 - ok);
        // Health and metrics stay reachable for monitoring while the source is limited.
        assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);

        await sendAll(
          srv.udpPort as number,
          Array.from({ length: 50 }, (_, i) => ev('rlu', i)),
        );
        await eventually(async () => {
          const c = await counters(srv);
          return (c.logsrv_accepted_total ?? 0) + (c['logsrv_dropped_total:rate_limited'] ?? 0) === 50;
        });
        const c = await counters(srv);
        assert.ok((c['logsrv_dropped_total:rate_limited'] ?? 0) >= 30, JSON.stringify(c));

        await new Promise((r) => setTimeout(r, 1100));
        const rep = await fetch(`${srv.url}/v1/reports/blocked?window=15m`);
        assert.equal(rep.status, 200);
        const report = (await rep.json()) as any;
        const http = report.sources.find((s: any) => s.transport === 'http');
        const udp = report.sources.find((s: any) => s.transport === 'udp');
        assert.equal(http.source, '127.0.0.1');
        assert.ok(http.count >= 20 - ok);
        assert.equal(udp.count, c['logsrv_dropped_total:rate_limited']);
        assert.ok(Date.parse(http.firstSeen) <= Date.parse(http.lastSeen));
        const bad = await fetch(`${srv.url}/v1/reports/blocked?window=2y`);
        assert.equal(bad.status, 400);
      } finally {
        await srv.dispose();
      }
    });
  });
}

describe('UDP receive buffer', () => {
  const rmemMax = (() => {
    try {
      return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
    } catch {
      return null; // not Linux: the OS reports sizes its own way
    }
  })();

  /** Starts a receiver asking for `bytes` of SO_RCVBUF and returns the warnings it gave at start. */
  async function warningsFor(bytes: number): Promise<string[]> {
    const warnings: string[] = [];
    const queue = new MemoryQueue({ maxEvents: 1000, maxBytes: 1 << 20, lastId: null, clock: Date.now });
    const udp = new UdpIngest({
      host: '127.0.0.1',
      port: 0,
      recvBufferBytes: bytes,
      maxDatagramBytes: 65_507,
      maxLineBytes: 1 << 20,
      batchEvents: 100,
      queue,
      metrics: createMetrics(),
      warn: (m) => warnings.push(m),
    });
    try {
      await udp.start();
    } finally {
      await udp.close();
      queue.close();
    }
    return warnings;
  }

  test('a receive buffer the OS caps (net.core.rmem_max) is named at start with the size granted and the fix', { skip: rmemMax === null }, async () => {
    const asked = (rmemMax as number) * 2;
    const warnings = await warningsFor(asked);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0] as string, new RegExp(`UDP receive buffer is ${rmemMax} bytes, asked for ${asked} \\(--udp-recv-buffer-bytes\\)`));
    assert.match(warnings[0] as string, new RegExp(`sysctl -w net.core.rmem_max=${asked}`));
  });

  test('a receive buffer within net.core.rmem_max is granted without a warning', { skip: rmemMax === null }, async () => {
    assert.deepEqual(await warningsFor(Math.max(4096, Math.floor((rmemMax as number) / 2))), []);
  });
});

describe('UDP reader', () => {
  async function startReceiver(o: { host?: string; reader?: 'auto' | 'dgram'; maxDatagramBytes?: number }) {
    const warnings: string[] = [];
    const metrics = createMetrics();
    const queue = new MemoryQueue({ maxEvents: 10_000, maxBytes: 16 << 20, lastId: null, clock: Date.now });
    const udp = new UdpIngest({
      host: o.host ?? '127.0.0.1',
      port: 0,
      recvBufferBytes: 1 << 20,
      maxDatagramBytes: o.maxDatagramBytes ?? 65_507,
      maxLineBytes: 1 << 20,
      batchEvents: 100,
      queue,
      metrics,
      warn: (m) => warnings.push(m),
      ...(o.reader ? { reader: o.reader } : {}),
    });
    const port = await udp.start();
    const taken: string[] = [];
    // Stands in for the writer: takes what the receiver published and commits it.
    const drain = (async () => {
      for (;;) {
        const b = await queue.take(100);
        if (!b) return;
        for (const e of b.events) taken.push(e.value);
        await queue.ack(b, undefined);
      }
    })();
    return {
      udp,
      port,
      warnings,
      taken,
      metrics,
      async close() {
        await udp.close();
        queue.close();
        await drain;
      },
    };
  }

  test('auto reads with recvmmsg on Linux (the native reader is built on install), node:dgram elsewhere; dgram is node:dgram', async () => {
    const auto = await startReceiver({});
    const dgram = await startReceiver({ reader: 'dgram' });
    try {
      assert.equal(auto.udp.reader, process.platform === 'linux' ? 'recvmmsg' : 'dgram');
      assert.deepEqual(auto.warnings, []);
      assert.equal(dgram.udp.reader, 'dgram');
      assert.deepEqual(dgram.warnings, []);
    } finally {
      await auto.close();
      await dgram.close();
    }
  });

  test('a host name (not an IP address) falls back to node:dgram, and says why', { skip: process.platform !== 'linux' }, async () => {
    const r = await startReceiver({ host: 'localhost' });
    try {
      assert.equal(r.udp.reader, 'dgram');
      assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
      assert.match(r.warnings[0] as string, /read with node:dgram, one datagram per call: localhost is not an IP address/);
    } finally {
      await r.close();
    }
  });

  test('a port in use fails the start with the address, whichever the reader', async () => {
    const first = await startReceiver({});
    try {
      for (const reader of ['auto', 'dgram'] as const) {
        const queue = new MemoryQueue({ maxEvents: 10, maxBytes: 1 << 20, lastId: null, clock: Date.now });
        const udp = new UdpIngest({
          host: '127.0.0.1',
          port: first.port,
          recvBufferBytes: 1 << 20,
          maxDatagramBytes: 65_507,
          maxLineBytes: 1 << 20,
          batchEvents: 100,
          queue,
          metrics: createMetrics(),
          warn: () => {},
          reader,
        });
        await assert.rejects(udp.start(), new RegExp(`EADDRINUSE 127\\.0\\.0\\.1:${first.port}`));
        await udp.close();
        queue.close();
      }
    } finally {
      await first.close();
    }
  });

  for (const reader of ['auto', 'dgram'] as const) {
    test(`IPv6, datagrams at and over --max-datagram-bytes, many per read: all stored in order or counted (--udp-reader ${reader})`, async (t) => {
      const probe = createSocket('udp6');
      const v6 = await new Promise<boolean>((res) => {
        probe.once('error', () => res(false));
        probe.bind(0, '::1', () => res(true));
      });
      probe.close();
      if (!v6) {
        t.skip('no IPv6 loopback here');
        return;
      }
      const r = await startReceiver({ host: '::1', reader, maxDatagramBytes: 200 });
      const s = createSocket('udp6');
      try {
        const sent: string[] = [];
        let big = 0;
        for (let i = 0; i < 600; i++) {
          const d =
            i % 50 === 7
              ? ev('v6', `${i}-${'x'.repeat(300)}`)
              : i % 50 === 8
                ? ev('v6', `${i}-${'y'.repeat(200 - ev('v6', `${i}-`).length)}`)
                : ev('v6', `${i}`);
          if (Buffer.byteLength(d) > 200) big++;
          else sent.push(d);
          // Bursts of 100 without a pause: the native reader gets them in few reads, many per call.
          await new Promise<void>((res, rej) => s.send(d, r.port, '::1', (err) => (err ? rej(err) : res())));
          if (i % 100 === 99) await new Promise((res) => setTimeout(res, 20));
        }
        const values = sent.map((d) => JSON.parse(d).value as string);
        await eventually(async () => r.taken.length === values.length);
        assert.deepEqual(r.taken, values);
        const text = await r.metrics.registry.metrics();
        assert.match(text, new RegExp(`logsrv_dropped_total\\{transport="udp",reason="datagram_too_large"\\} ${big}\\b`));
        assert.equal(r.udp.reader, reader === 'auto' && process.platform === 'linux' ? 'recvmmsg' : 'dgram');
      } finally {
        s.close();
        await r.close();
      }
    });
  }
});
