/**
 * The server's threads carry names the operating system shows (`top -H`, `ps -L`), so an operator
 * and the benchmarks' CPU split can tell the writer from the index thread (thread-name.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startTestServer, until } from './helpers.ts';

/** Names of this process's threads; the server under test runs in it. */
function threadNames(): { main: string; others: string[] } {
  const others: string[] = [];
  let main = '';
  for (const tid of readdirSync('/proc/self/task')) {
    let name: string;
    try {
      name = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
    } catch {
      continue; // the thread ended between the listing and the read
    }
    if (Number(tid) === process.pid) main = name;
    else others.push(name);
  }
  return { main, others };
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
  } finally {
    await srv.dispose();
  }
});
