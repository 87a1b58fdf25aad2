/**
 * The session chunk thread steps aside while the process's other threads queue for a CPU
 * (cpu-contention.ts, session-chunks-worker.ts): it takes no step then, up to a bound of unread
 * rows, writes what it buffered when due, and catches up once they stop queuing or the store closes.
 *
 * Contention is made for real: more busy threads (at nice 19, the chunk thread's own priority, so
 * that priority alone would let it keep up) than the machine has cores, in this process.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { SqliteStore } from '@logsrv/server';
import Database from 'better-sqlite3';
import { CONTENDED_WAIT_RATIO, CpuContention, otherThreadsRunnable } from '../src/store/sqlite/cpu-contention.ts';
import { currentThreadId } from '../src/store/sqlite/thread-priority.ts';
import { ev } from './contract/events.ts';
import { until } from './helpers.ts';

const linux = existsSync('/proc/self/task');
const LINUX_ONLY = linux ? {} : { skip: 'per-thread run-queue figures (/proc/self/task/*/schedstat) are Linux only' };

/** Starts `n` threads that spin at nice 19 until the returned function is called. */
async function busyThreads(n: number): Promise<() => Promise<void>> {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const m = /\\/task\\/(\\d+)$/.exec(require('node:fs').readlinkSync('/proc/thread-self'));
    require('node:os').setPriority(Number(m[1]), 19);
    const stop = new Int32Array(workerData);
    parentPort.postMessage('spinning');
    let x = 0;
    while (Atomics.load(stop, 0) === 0) x++;
  `;
  const workers = Array.from({ length: n }, () => new Worker(code, { eval: true, workerData: stop.buffer }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  return async () => {
    Atomics.store(stop, 0, 1);
    await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  };
}

/** The day's chunk watermark and last rowid, read from the files. */
function chunkState(dir: string): { built: number; last: number } {
  const day = readdirSync(dir).find((f) => /^events-\d{8}\.db$/.test(f)) as string;
  const db = new Database(join(dir, day), { readonly: true });
  const last = db.prepare('SELECT max(rowid) FROM events').pluck().get() as number;
  db.close();
  const chunks = new Database(join(dir, day.replace('.db', '.sess.db')), { readonly: true });
  const built = chunks.prepare('SELECT built FROM chunk_state').pluck().get() as number;
  chunks.close();
  return { built, last };
}

/** Appends rows in batches of 1000; `from` numbers the first (ids follow from it: no duplicates across fillers). */
function filler(store: SqliteStore, from = 0) {
  const ms = Date.UTC(2026, 0, 2, 3, 4, 5);
  let n = from;
  return async (rows: number) => {
    for (let done = 0; done < rows; done += 1000) {
      const k = Math.min(1000, rows - done);
      await store.append({
        events: Array.from({ length: k }, () => ev(`s${n % 7}`, `line ${n++}`, { key: 'stdout' })),
        ms: new Float64Array(k).fill(ms + n),
        seq: new Float64Array(k).map((_, i) => i),
      });
    }
  };
}

test('the run-queue wait of the other threads is measured: spinning threads beyond the cores queue, idle ones do not', LINUX_ONLY, async () => {
  const c = new CpuContention();
  assert.ok(c.available);
  // Idle but for the runtime's own helper threads (compiling this file's code, collecting garbage),
  // which can queue briefly on a busy machine: one reading of 300 ms in ten below the threshold.
  const idle: number[] = [];
  for (let i = 0; i < 10 && !(idle.at(-1) !== undefined && (idle.at(-1) as number) < CONTENDED_WAIT_RATIO); i++) {
    c.waitRatio();
    await sleep(300);
    idle.push(c.waitRatio());
  }
  assert.ok((idle.at(-1) as number) < CONTENDED_WAIT_RATIO, `idle process: ${idle.join(', ')}`);
  // Runnable now: none but this thread, in one of ten readings (the runtime's helpers come and go).
  const self = currentThreadId();
  const runnable: number[] = [];
  for (let i = 0; i < 10 && !(runnable.length > 0 && (runnable.at(-1) as number) === 0); i++) {
    if (i > 0) await sleep(100);
    runnable.push(otherThreadsRunnable(self));
  }
  assert.equal(runnable.at(-1), 0, `runnable threads of an idle process: ${runnable.join(', ')}`);
  assert.equal(c.contended(), false);
  const n = availableParallelism() + 1;
  const stop = await busyThreads(n);
  try {
    // Spinning threads are runnable all the time, waiting or not.
    assert.ok(otherThreadsRunnable(self) >= n, `runnable with ${n} spinning: ${otherThreadsRunnable(self)}`);
    // n threads on n - 1 cores: one of them is always waiting, at the least. The kernel counts a
    // wait when it ends: beside busier processes these threads (nice 19) may wait past one reading
    // (3 of them read 0.017 over 300 ms under 4 busy loops), so the mean of up to ten is taken.
    c.waitRatio();
    const busy: number[] = [];
    const mean = () => busy.reduce((a, b) => a + b, 0) / busy.length;
    while (busy.length < 10 && !(busy.length > 0 && mean() >= 0.5)) {
      await sleep(300);
      busy.push(c.waitRatio());
    }
    assert.ok(mean() >= 0.5, `${n} spinning threads: ${busy.join(', ')}`);
    assert.equal(c.contended(), true);
  } finally {
    await stop();
  }
});

test('the chunk thread takes no step while the other threads queue for a CPU, and catches up when they stop', { ...LINUX_ONLY, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-chunk-defer-'));
  const store = new SqliteStore({ dataDir: dir, readerThreads: 1, synchronous: 'normal', searchIndex: false, sessionChunkFlushMs: 100 });
  const fill = filler(store);
  try {
    await fill(1);
    await until('the first row chunked', () => chunkState(dir).built === 1, 20_000);
    const stop = await busyThreads(availableParallelism() + 1);
    try {
      await fill(20_000);
      // At nice 19 among as many threads of nice 19, the thread would chunk 20k rows in well under a second.
      await sleep(1500);
      const st = chunkState(dir);
      assert.equal(st.built, 1, `no step while the others queue: ${st.built} of ${st.last} rows chunked`);
      assert.equal(store.sessionChunksLagRows(), 20_000, 'the lag is visible');
    } finally {
      await stop();
    }
    await until('caught up once they stopped', () => chunkState(dir).built === 20_001, 60_000);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('while it steps aside the chunk thread keeps at most its bound unread, writes what it read, and a clean stop catches up', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-chunk-bound-'));
  // Always contended (a ratio ≥ 0), at most 5,000 rows unread: it steps while more are.
  const store = new SqliteStore({
    dataDir: dir,
    readerThreads: 1,
    synchronous: 'normal',
    searchIndex: false,
    sessionChunkFlushMs: 100,
    sessionChunkDefer: { waitRatio: 0, maxLagRows: 5000 },
  });
  const fill = filler(store);
  let closed = false;
  try {
    await fill(20_000);
    // Steps of 2,000 rows while ≥ 5,000 are unread: it stops with 3,001–4,999 unread, and what it
    // read is written when due (100 ms) though it takes no further step.
    await until('read down to its bound', () => chunkState(dir).built >= 15_001, 30_000);
    await sleep(1000);
    const st = chunkState(dir);
    const unread = st.last - st.built;
    assert.ok(unread > 3000 && unread < 5000, `${unread} rows unread (built ${st.built} of ${st.last})`);
    assert.equal(store.sessionChunksLagRows(), unread, 'the lag published is what is unread');
    await store.close();
    closed = true;
    const after = chunkState(dir);
    assert.equal(after.built, after.last, 'a clean stop catches up whatever the contention');
    // Reopened, always contended, no bound reached: no step at all, and the lag is still the day's
    // rows past its watermark (published for the day followed before any step there).
    const again = new SqliteStore({
      dataDir: dir,
      readerThreads: 1,
      synchronous: 'normal',
      searchIndex: false,
      sessionChunkFlushMs: 100,
      sessionChunkDefer: { waitRatio: 0, maxLagRows: 1_000_000 },
    });
    try {
      const more = filler(again, 1_000_000);
      await more(100);
      // Until the thread has started and followed the day, the lag counts the whole day (20,100):
      // on a loaded machine that took over a second.
      await until('the thread follows the day', () => again.sessionChunksLagRows() === 100, 30_000);
      // Ten flush periods: a step taken now would have been written.
      await sleep(1000);
      assert.equal(chunkState(dir).built, after.built, 'no step');
      assert.equal(again.sessionChunksLagRows(), 100);
    } finally {
      await again.close();
    }
  } finally {
    if (!closed) await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
