/**
 * The web UI's SSE reader (packages/web/src/sse.ts: fetch + a streaming parser, because
 * EventSource cannot send the token header) against a real server, driven from Node: a reader
 * that stalls falls behind `--tail-client-buffer-bytes`, gets `event: lagged`, resumes from the id
 * it names, and still sees every event exactly once, in order, until `event: end`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { TailStatus } from '../../packages/web/src/sse.ts';
import { followTail } from '../../packages/web/src/sse.ts';
import { request, startServer } from './helpers.ts';
import { until } from './ui-helpers.ts';

const EVENTS = 40_000;
const PER_REQUEST = 2_000;

test('the UI tail reader resumes after event: lagged from the named id, with no gap and no duplicate, and stops at event: end', {
  timeout: 120_000,
}, async (t) => {
  const server = await startServer(t, { args: ['--tail-client-buffer-bytes', '1024'] });
  const received: number[] = [];
  const statuses: string[] = [];
  let stalled = false;
  const ended = new Promise<void>((resolve) => {
    const tail = followTail<{ key: string; value: string }>({
      path: `${server.url}/v1/sessions/lag/tail`,
      after: null,
      onEvents: (events) => {
        // Stall once, long enough for the server to fall more than 1 KiB behind while the writer keeps posting.
        if (!stalled && events.length > 0) {
          stalled = true;
          const stallEnd = Date.now() + 2500;
          while (Date.now() < stallEnd) {}
        }
        for (const e of events) if (e.key === 'stdout') received.push(Number(e.value.split(' ')[1]));
      },
      onStatus: (s: TailStatus, detail?: string) => {
        statuses.push(detail ? `${s}: ${detail}` : s);
        if (s === 'ended') resolve();
      },
    });
    t.after(() => tail.stop());
  });
  await until('the tail to be live', async () => statuses.includes('live'));

  // Another process writes, so it keeps going while this one is stalled.
  const script = `
    const url = ${JSON.stringify(server.url)};
    const pad = 'x'.repeat(200);
    for (let i = 0; i < ${EVENTS}; i += ${PER_REQUEST}) {
      let body = '';
      for (let j = i; j < i + ${PER_REQUEST}; j++) body += JSON.stringify({ session: 'lag', key: 'stdout', value: 'line ' + j + ' ' + pad }) + '\\n';
      const r = await fetch(url + '/v1/events', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      if (r.status !== 200) throw new Error('ingest ' + r.status + ' ' + (await r.text()));
    }
    const r = await fetch(url + '/v1/events', { method: 'POST', body: JSON.stringify({ session: 'lag', key: 'session.end', value: true }) });
    if (r.status !== 200) throw new Error('end ' + r.status);
  `;
  const writer = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  const writerExit = new Promise<number | null>((r) => writer.on('exit', (code) => r(code)));
  assert.equal(await writerExit, 0);
  await ended;

  assert.equal(received.length, EVENTS, `received ${received.length} of ${EVENTS}`);
  for (let i = 0; i < EVENTS; i++) if (received[i] !== i) assert.fail(`event ${i} out of place: got ${received[i]}`);
  const metrics = (await request(`${server.url}/metrics`)).text;
  const lagged = Number(/^logsrv_tail_lagged_total (\d+)/m.exec(metrics)?.[1] ?? 0);
  assert.ok(lagged >= 1, `the server lagged the stalled reader (logsrv_tail_lagged_total ${lagged}); statuses: ${statuses.join(', ')}`);
  assert.ok(statuses.includes('reconnecting'), statuses.join(', '));
});
