/**
 * The server's threads carry names the operating system shows (`top -H`, `ps -L`), so an operator
 * and the benchmarks' CPU split can tell the writer from the index thread (thread-name.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
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
