/**
 * Scale-out (SPEC §4, §6): receivers, writers and a reader as separate processes over Redis
 * Streams and PostgreSQL, under load and through failures. Every test runs real services: the
 * machine's PostgreSQL with a fresh database, or private redis-server / PostgreSQL processes
 * where the test stops and restarts them.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { ServerProcess, StoredEvent } from './helpers.js';
import { json, postNdjson, readAll, request, runCli, sleep, startServer, tempDir } from './helpers.js';
import { freshDatabase, privatePostgres, privateRedis } from './services.js';

type Ctx = Parameters<typeof startServer>[0] & { skip(msg: string): void };

function role(t: Ctx, name: 'receiver' | 'writer' | 'reader' | 'all', redis: string, pg: string, extra: string[] = []): Promise<ServerProcess> {
  return startServer(t, { args: ['--role', name, '--queue', redis, '--store', pg, '--queue-shards', '4', ...extra], readyTimeoutMs: 20_000 });
}

interface SessionLog {
  /** Values acknowledged with 200, in acknowledgement order (= acceptance order: one client per session). */
  acked: string[];
  /** Values of requests that failed without an answer, or got a 5xx: stored at most once. */
  unsure: Set<string>;
}

/** One sequential client per session, alternating receivers, until `stop()`. */
function load(receivers: () => string[], sessions: string[], stopAt: () => boolean): { logs: Map<string, SessionLog>; done: Promise<void> } {
  const logs = new Map<string, SessionLog>();
  const done = Promise.all(
    sessions.map(async (session, c) => {
      const log: SessionLog = { acked: [], unsure: new Set() };
      logs.set(session, log);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
      let n = 0;
      for (let b = 0; !stopAt(); b++) {
        const size = 1 + ((b * 31 + c * 7) % 40);
        const values = Array.from({ length: size }, () => `${session}:${n++}`);
        const rs = receivers();
        const url = rs[b % rs.length] as string;
        try {
          const r = await postNdjson(
            url,
            values.map((value) => ({ session, key: 'stdout', value })),
            { agent, timeoutMs: 30_000 },
          );
          if (r.status === 200 && json<{ accepted: number }>(r).accepted === size) log.acked.push(...values);
          else for (const v of values) log.unsure.add(v);
        } catch {
          for (const v of values) log.unsure.add(v);
        }
      }
      agent.destroy();
    }),
  ).then(() => {});
  return { logs, done };
}

/** Waits until the reader has at least `n` events of `session`, then returns them all. */
async function readUntil(base: string, session: string, n: number, ms: number): Promise<StoredEvent[]> {
  const until = Date.now() + ms;
  for (;;) {
    const all = await readAll(base, session);
    if (all.length >= n || Date.now() > until) return all;
    await sleep(200);
  }
}

function checkStored(session: string, stored: StoredEvent[], log: SessionLog): void {
  const values = stored.map((e) => e.value as string);
  const seen = new Set<string>();
  for (const v of values) {
    assert.ok(!seen.has(v), `${session}: ${v} stored twice`);
    seen.add(v);
  }
  for (const v of log.acked) assert.ok(seen.has(v), `${session}: acknowledged ${v} is missing`);
  for (const v of values) assert.ok(log.acked.includes(v) || log.unsure.has(v), `${session}: ${v} was never sent`);
  // Acceptance order per session: the acknowledged values appear in the order they were acked.
  const ackedStored = values.filter((v) => log.acked.includes(v));
  assert.deepEqual(ackedStored, log.acked, `${session}: stored order differs from acceptance order`);
  for (let i = 1; i < stored.length; i++) {
    const [a, b] = [stored[i - 1] as StoredEvent, stored[i] as StoredEvent];
    assert.ok(idLess(a.id, b.id), `${session}: ids not increasing at ${a.id}, ${b.id}`);
  }
}

function idLess(a: string, b: string): boolean {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am !== bm ? am < bm : as < bs;
}

/** Follows a session's SSE tail on `base` from its start; resolves with the values at `event: end`. */
function followTail(base: string, session: string): { values: Promise<string[]>; ids: string[] } {
  const ids: string[] = [];
  const values = new Promise<string[]>((res, rej) => {
    const out: string[] = [];
    const req = http.get(`${base}/v1/sessions/${session}/tail`, (r) => {
      let buf = '';
      r.setEncoding('utf8');
      r.on('data', (s: string) => {
        buf += s;
        for (let cut = buf.indexOf('\n\n'); cut >= 0; cut = buf.indexOf('\n\n')) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const type = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (type === 'event' && data) {
            const e = JSON.parse(data) as StoredEvent;
            ids.push(e.id);
            if (e.key === 'stdout') out.push(e.value as string);
          } else if (type === 'end') {
            req.destroy();
            res(out);
          } else if (type === 'lagged' || type === 'error') rej(new Error(`tail got ${type}: ${data}`));
        }
      });
    });
    req.on('error', (err) => {
      if (!(err as NodeJS.ErrnoException).code?.includes('ECONNRESET')) rej(err);
    });
  });
  return { values, ids };
}

test('2 receivers, 2 writers and a reader as processes: a writer killed mid-load loses nothing acknowledged, stores it once and in acceptance order; a live tail on the reader sees every event', {
  timeout: 180_000,
}, async (t) => {
  const redis = await privateRedis(t);
  const pg = redis && (await freshDatabase(t));
  if (!redis || !pg) return;
  const writers = [await role(t, 'writer', redis.url, pg), await role(t, 'writer', redis.url, pg)];
  const receivers = [await role(t, 'receiver', redis.url, pg), await role(t, 'receiver', redis.url, pg)];
  const reader = await role(t, 'reader', redis.url, pg);

  const health = json<{ role: string }>(await request(`${reader.url}/healthz`));
  assert.equal(health.role, 'reader');
  // A reader serves no ingest, a receiver no reads.
  assert.equal((await postNdjson(reader.url, [{ session: 'x', key: 'k', value: 1 }])).status, 404);
  assert.equal((await request(`${receivers[0]?.url}/v1/sessions/x/events`)).status, 404);

  const sessions = Array.from({ length: 6 }, (_x, i) => `so-${i}`);
  const tail = followTail(reader.url, 'so-0');
  const started = Date.now();
  let killedAt = 0;
  const run = load(
    () => receivers.map((r) => r.url),
    sessions,
    () => Date.now() - started > 8000,
  );
  await sleep(3000);
  (writers[0] as ServerProcess).kill('SIGKILL');
  killedAt = Date.now() - started;
  await run.done;
  assert.ok(killedAt > 0);
  // End every session, so the tail closes at its end.
  for (const s of sessions) assert.equal((await postNdjson(receivers[1]?.url as string, [{ session: s, key: 'session.end', value: 'done' }])).status, 200);

  let total = 0;
  for (const s of sessions) {
    const log = run.logs.get(s) as SessionLog;
    total += log.acked.length;
    const stored = (await readUntil(reader.url, s, log.acked.length + 1, 30_000)).filter((e) => e.key === 'stdout');
    checkStored(s, stored, log);
  }
  assert.ok(total > 2000, `load acknowledged only ${total} events`);
  const tailed = await tail.values;
  const stored0 = (await readAll(reader.url, 'so-0')).filter((e) => e.key === 'stdout').map((e) => e.value);
  assert.deepEqual(tailed, stored0, 'the live tail saw exactly what was stored, in order, no gap, no duplicate');
  // The surviving writer took over the dead one's shards.
  const metrics = (await request(`${writers[1]?.url}/healthz`)).status;
  assert.equal(metrics, 200);
});

test('Redis restarted: receivers answer 503 with Retry-After while it is down, logsrv run spools, and nothing acknowledged is lost', {
  timeout: 120_000,
}, async (t) => {
  const redis = await privateRedis(t);
  const pg = redis && (await freshDatabase(t));
  if (!redis || !pg) return;
  const server = await role(t, 'all', redis.url, pg);
  const before = Array.from({ length: 50 }, (_x, i) => ({ session: 'rr', key: 'stdout', value: `before-${i}` }));
  assert.equal((await postNdjson(server.url, before)).status, 200);

  await redis.kill();
  const down = await postNdjson(server.url, [{ session: 'rr', key: 'stdout', value: 'while-down' }], { timeoutMs: 10_000 });
  assert.equal(down.status, 503);
  assert.ok(down.headers['retry-after'], '503 carries Retry-After');
  const spoolDir = tempDir(t);
  const run = await runCli(['run', '--server', server.url, '--spool', spoolDir, '--session', 'rr-run', '--', 'sh', '-c', 'echo spooled-line'], {
    timeoutMs: 60_000,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /spooled-line/);
  assert.match(run.stderr, /spool/i);

  await redis.start();
  // The server reconnects by itself; posts succeed again.
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await postNdjson(server.url, [{ session: 'rr', key: 'stdout', value: 'after' }], { timeoutMs: 10_000 })).status;
    if (status !== 200) await sleep(200);
  }
  assert.equal(status, 200);
  const flush = await runCli(['flush', '--server', server.url, '--spool', spoolDir], { timeoutMs: 60_000 });
  assert.equal(flush.code, 0, flush.stderr);

  const stored = (await readAll(server.url, 'rr')).map((e) => e.value);
  assert.deepEqual(stored, [...before.map((e) => e.value), 'after']);
  const ran = (await readAll(server.url, 'rr-run')).filter((e) => e.key === 'stdout').map((e) => e.value);
  assert.deepEqual(ran, ['spooled-line']);
});

test('PostgreSQL stopped and restarted: writers retry, the queue absorbs up to its bound then answers 503, and every acknowledged event is stored once', {
  timeout: 180_000,
}, async (t) => {
  const redis = await privateRedis(t);
  const pgServer = redis && (await privatePostgres(t));
  if (!redis || !pgServer) return;
  const server = await role(t, 'all', redis.url, pgServer.url, ['--max-queue-events', '300']);
  assert.equal((await postNdjson(server.url, [{ session: 'pr', key: 'stdout', value: 'first' }])).status, 200);

  pgServer.stop();
  // Accepted into Redis while PostgreSQL is down: these wait for their commit.
  const waiting = Array.from({ length: 5 }, (_x, i) =>
    postNdjson(
      server.url,
      Array.from({ length: 50 }, (_y, j) => ({ session: 'pr', key: 'stdout', value: `held-${i}-${j}` })),
      { timeoutMs: 120_000 },
    ),
  );
  await sleep(1500);
  // 250 events wait; the bound is 300: a batch of 100 more is refused at once.
  const over = await postNdjson(
    server.url,
    Array.from({ length: 100 }, (_y, j) => ({ session: 'pr', key: 'stdout', value: `over-${j}` })),
    { timeoutMs: 10_000 },
  );
  assert.equal(over.status, 503, over.text);
  assert.match(over.text, /queue is full/);

  pgServer.start();
  const answers = await Promise.all(waiting);
  for (const a of answers) assert.equal(a.status, 200, a.text);
  const stored = (await readAll(server.url, 'pr')).map((e) => e.value as string);
  const expected = ['first', ...Array.from({ length: 5 }, (_x, i) => Array.from({ length: 50 }, (_y, j) => `held-${i}-${j}`)).flat()];
  assert.deepEqual([...stored].sort(), [...expected].sort(), 'every acknowledged event once, nothing refused stored');
  assert.equal(new Set(stored).size, stored.length);
});
