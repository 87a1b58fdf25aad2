/**
 * Issue 4, "must show": lines reach an SSE tail while the command is still running — the first
 * line at least 1 s before a 2 s command ends — and the tail ends when the run ends
 * (`step.exit` with `final: true`).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAll, sleep, startServer, tempDir } from './helpers.js';
import { followTail, nodeScript, runAgent } from './run-helpers.js';

test('a line printed by a running command reaches a live tail at once, long before the command ends', { timeout: 30_000 }, async (t) => {
  const server = await startServer(t);
  const spool = tempDir(t);
  const session = `live-${process.pid}`;
  const tail = followTail(server.url, session);
  const script = "console.log('first'); setTimeout(() => console.log('second'), 1000); setTimeout(() => console.log('last'), 2000)";
  const result = await runAgent(t, server.url, spool, ['--session', session, '--', ...nodeScript(script)]);
  assert.equal(result.code, 0, result.stderr);
  const how = await Promise.race([tail.ended, sleep(5000).then(() => 'timeout')]);
  tail.stop();
  assert.equal(how, 'end', 'the tail ends with the run (step.exit final: true)');

  const arrival = (value: string) => tail.arrivals.find((a) => a.event.key === 'stdout' && a.event.value === value);
  const first = arrival('first');
  const last = arrival('last');
  assert.ok(first && last, `tail saw: ${JSON.stringify(tail.arrivals.map((a) => a.event.value))}`);
  const aheadMs = result.exitedAt - first.at;
  assert.ok(aheadMs >= 1000, `first line reached the tail only ${aheadMs.toFixed(0)} ms before the command ended`);
  // The line's producer time (ts, read from the pipe) to its arrival at the tail: same clock, same machine.
  const lagMs = Date.parse(last.event.received) - Date.parse(last.event.ts);
  assert.ok(lagMs < 1000, `write → commit took ${lagMs} ms`);
  assert.deepEqual(
    tail.arrivals.map((a) => a.event.key),
    ['step.start', 'stdout', 'stdout', 'stdout', 'step.exit'],
  );
  const stored = await readAll(server.url, session);
  assert.deepEqual(
    stored.map((e) => e.id),
    tail.arrivals.map((a) => a.event.id),
  );
});
