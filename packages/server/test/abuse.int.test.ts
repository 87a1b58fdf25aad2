/** Slow and greedy clients on loopback, bounded in time and count: everyone else keeps being served. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { ndjson, startTestServer, until } from './helpers.ts';

function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what} took over ${ms} ms`)), ms))]);
}

/** A POST from a chosen loopback source address (127.0.0.0/8 all reaches this machine). */
function postFrom(localAddress: string, url: string, body: string): Promise<number> {
  const u = new URL(`${url}/v1/events`);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/x-ndjson' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('abuse', () => {
  test('slowloris: clients that never finish their headers are cut off, others are served meanwhile', async () => {
    const srv = await startTestServer({ headersTimeoutMs: 800 });
    const port = Number(new URL(srv.url).port);
    const slow: Socket[] = [];
    const closedAt: number[] = [];
    const t0 = Date.now();
    try {
      for (let i = 0; i < 40; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.on('close', () => closedAt.push(Date.now() - t0));
        s.write('POST /v1/events HTTP/1.1\r\nHost: x\r\n');
        slow.push(s);
      }
      // Drip one more header line now and then, as slowloris does.
      const drip = setInterval(() => {
        for (const s of slow) if (!s.destroyed) s.write('X-a: b\r\n');
      }, 200);
      try {
        for (let i = 0; i < 5; i++) {
          const res = await timed(
            fetch(`${srv.url}/v1/events`, { method: 'POST', body: ndjson([{ session: 'calm', key: 'k', value: i }]) }),
            2000,
            'a normal request',
          );
          assert.equal(res.status, 200);
          await res.arrayBuffer();
        }
        await timed(
          (async () => {
            while (closedAt.length < slow.length) await new Promise((r) => setTimeout(r, 50));
          })(),
          5000,
          'closing every slow client',
        );
      } finally {
        clearInterval(drip);
      }
      assert.equal(closedAt.length, 40);
      assert.ok(Math.max(...closedAt) < 4000, `slow clients were held for ${Math.max(...closedAt)} ms`);
    } finally {
      for (const s of slow) s.destroy();
      await srv.dispose();
    }
  });

  test('flood: a source over its rate limit gets 429s while another source is served', async () => {
    const srv = await startTestServer({ rateLimit: 20, rateLimitBurst: 20 });
    try {
      let stop = false;
      const flood = (async () => {
        const codes: number[] = [];
        while (!stop && codes.length < 3000) {
          const batch = await Promise.all(
            Array.from({ length: 20 }, () => postFrom('127.0.0.2', srv.url, ndjson([{ session: 'flood', key: 'k', value: 1 }])).catch(() => 0)),
          );
          codes.push(...batch);
        }
        return codes;
      })();
      const calm: number[] = [];
      for (let i = 0; i < 10; i++) {
        calm.push(await timed(postFrom('127.0.0.1', srv.url, ndjson([{ session: 'calm', key: 'k', value: i }])), 2000, 'a calm request'));
        await new Promise((r) => setTimeout(r, 100));
      }
      stop = true;
      const codes = await flood;
      assert.deepEqual(calm, Array(10).fill(200));
      assert.ok(codes.filter((c) => c === 429).length > codes.length / 2, `flood codes: ${codes.length} sent`);
      const report = (await (await fetch(`${srv.url}/v1/reports/blocked`)).json()) as any;
      assert.deepEqual(
        report.sources.map((s: any) => s.source),
        ['127.0.0.2'],
      );
    } finally {
      await srv.dispose();
    }
  });

  test('connections over --max-connections-per-ip are closed at once; other sources still connect', async () => {
    const srv = await startTestServer({ maxConnectionsPerIp: 5 });
    const port = Number(new URL(srv.url).port);
    const socks: Socket[] = [];
    try {
      const closed: number[] = [];
      for (let i = 0; i < 8; i++) {
        const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.3' });
        s.on('error', () => {});
        s.on('close', () => closed.push(i));
        socks.push(s);
      }
      // Polled, not a fixed wait (a loaded machine closes later); then a moment more, so a fourth
      // close would be seen.
      await until('3 connections closed', () => closed.length >= 3);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(closed.length, 3);
      assert.equal(await postFrom('127.0.0.4', srv.url, ndjson([{ session: 'c', key: 'k', value: 1 }])), 200);
    } finally {
      for (const s of socks) s.destroy();
      await srv.dispose();
    }
  });
});
