/**
 * The server's threads carry names the operating system shows (`top -H`, `ps -L`), so an operator
 * and the benchmarks' CPU split can tell the writer from the index thread (thread-name.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { test } from 'node:test';
import { loadNativeUdp } from '../src/ingest/udp-native.ts';
import { INDEX_THREAD_NICE } from '../src/store/sqlite/index-file.ts';
import { startTestServer, threadNice, until } from './helpers.ts';

/** Names (and nice values) of this process's threads; the server under test runs in it. */
function threadNames(): { main: string; others: string[]; mainNice: number; nice: Map<string, number[]> } {
  const others: string[] = [];
  const nice = new Map<string, number[]>();
  let main = '';
  let mainNice = Number.NaN;
  for (const tid of readdirSync('/proc/self/task')) {
    let name: string;
    let n: number;
    try {
      name = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
      n = threadNice(tid);
    } catch {
      continue; // the thread ended between the listing and the reads
    }
    if (Number(tid) === process.pid) {
      main = name;
      mainNice = n;
    } else {
      others.push(name);
      nice.set(name, [...(nice.get(name) ?? []), n]);
    }
  }
  return { main, others, mainNice, nice };
}

const linux = process.platform === 'linux';

test(`each of the server's own threads is named for what it does${linux ? '' : ' (skipped: thread names are read from Linux /proc)'}`, {
  skip: !linux,
}, async () => {
  const before = threadNames().main;
  const srv = await startTestServer({ syslogUdp: '127.0.0.1:0' });
  try {
    const expected = ['logsrv-writer', 'logsrv-index', 'logsrv-chunks', 'logsrv-ckpt', 'logsrv-reader', 'logsrv-udp', 'logsrv-syslog'];
    await until(`threads named ${expected.join(', ')}`, () => expected.every((n) => threadNames().others.includes(n)));
    const { main, others } = threadNames();
    assert.equal(main, before, 'the main thread keeps the process name');
    assert.ok(others.filter((n) => n === 'logsrv-reader').length >= 1);
    for (const n of others) assert.ok(n.length <= 15, `${n}: the kernel keeps at most 15 bytes`);
    // Priorities: derived data below ingest. The index thread and the session chunk thread run
    // niced; the threads ingest and reads wait on keep the process's own priority.
    const { mainNice: base, nice } = threadNames();
    assert.ok(base < 19, `the test process's nice value, ${base}, leaves room below it`);
    assert.deepEqual(nice.get('logsrv-index'), [Math.min(19, base + INDEX_THREAD_NICE)]);
    assert.deepEqual(nice.get('logsrv-chunks'), [19]);
    for (const n of ['logsrv-writer', 'logsrv-ckpt', 'logsrv-udp', 'logsrv-syslog', 'logsrv-reader']) {
      assert.ok(
        nice.get(n)?.every((v) => v === base),
        `${n}: nice ${nice.get(n)?.join(', ')}, the process ${base}`,
      );
    }
  } finally {
    await srv.dispose();
  }
});

/** `se.slice` (ns) of a thread of this process, as /proc shows it (Linux 6.6 and later), or null. */
function sliceOf(tid: string): number | null {
  const m = /^se\.slice\s*:\s*(\d+)/m.exec(readFileSync(`/proc/self/task/${tid}/sched`, 'latin1'));
  return m ? Number(m[1]) : null;
}

/** Tids of this process's threads called `name`. */
function threadsNamed(name: string): string[] {
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim() === name;
    } catch {
      return false;
    }
  });
}

/**
 * Why this kernel cannot show a slice of one's own (null when it can): opens a native reader here
 * asking for 0.1 ms and reads its reading thread's slice back (the thread is named after this
 * process's main thread with "-r"), waiting up to 2 s for the thread to ask.
 */
function sliceUnsupported(): string | null {
  if (!linux) return 'thread slices are Linux-only';
  const { native, why } = loadNativeUdp();
  if (!native) return why;
  const name = `${readFileSync(`/proc/self/task/${process.pid}/comm`, 'latin1').trim().slice(0, 13)}-r`;
  const r = native.open(false, '127.0.0.1', 0, 65536, 64, new Uint8Array(64 * 16), new Int32Array(16), new Uint8Array(20 * 16), () => {}, 65536, 100_000);
  try {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 2000; Date.now() < end; Atomics.wait(pause, 0, 0, 20)) {
      if (threadsNamed(name).some((tid) => sliceOf(tid) === 100_000)) return null;
    }
  } finally {
    native.close(r);
  }
  return `this kernel (${release()}) keeps its default slice (Linux 6.12 and later grant one of one's own)`;
}

const noSlice = sliceUnsupported();

test(`the UDP readers' reading threads ask for the kernel's shortest time slice; the others keep the default${noSlice ? ` (skipped: ${noSlice})` : ''}`, {
  skip: noSlice !== null,
}, async () => {
  const srv = await startTestServer({ syslogUdp: '127.0.0.1:0' });
  try {
    // The native reader's thread is named after the receive thread that opened it, with "-r".
    const readers = ['logsrv-udp-r', 'logsrv-syslog-r'];
    await until(`threads ${readers.join(', ')}`, () => readers.every((n) => threadsNamed(n).length === 1));
    const mainSlice = sliceOf(String(process.pid));
    assert.ok(mainSlice !== null && mainSlice > 100_000, `the main thread's slice, ${mainSlice} ns, is the kernel's default`);
    for (const name of readers) {
      const [tid] = threadsNamed(name);
      // The thread asks as it starts; the server was already answering, so give it a moment.
      await until(`${name}'s slice`, () => sliceOf(tid as string) === 100_000);
    }
    for (const name of ['logsrv-udp', 'logsrv-syslog', 'logsrv-writer', 'logsrv-index', 'logsrv-ckpt']) {
      for (const tid of threadsNamed(name)) assert.equal(sliceOf(tid), mainSlice, `${name} keeps the default slice`);
    }
  } finally {
    await srv.dispose();
  }
});
