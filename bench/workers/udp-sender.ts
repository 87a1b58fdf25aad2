/**
 * Load generator for `udp-ingest`, run as a child process by bench/lib/udp-senders.ts (argv[2] is
 * its JSON config). On each `run` command it offers `rate` datagrams/s to `host:port` for `ms`
 * milliseconds: one ~200-byte event per datagram (an NDJSON event, or a syslog message with `format: 'syslog'`), every event distinct from every other of the
 * whole benchmark (this sender's line numbers are `index + k × senders`).
 *
 * Pacing: every turn sends the datagrams that are due by the clock (at most 2048 at once, so send
 * callbacks and IPC still run); when ahead it sleeps 1 ms. When the process cannot keep up, it
 * sends as fast as it can and the achieved rate is reported — never the asked one.
 */
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep, setImmediate as yieldTurn } from 'node:timers/promises';
import type { BodyTemplate } from '../lib/ndjson-workload.ts';
import { createRng, makeBody, makeSyslog, stamp } from '../lib/ndjson-workload.ts';
import type { UdpSenderCommand, UdpSenderConfig, UdpSenderMessage } from '../lib/udp-senders.ts';

const config = JSON.parse(process.argv[2] ?? '{}') as UdpSenderConfig;
const TEMPLATES = 4096;

function send(m: UdpSenderMessage): void {
  process.send?.(m);
}

const rng = createRng(config.seed);
const templates: BodyTemplate[] = [];
for (let i = 0; i < TEMPLATES; i++) templates.push(config.format === 'syslog' ? makeSyslog(rng, config.tag) : makeBody(1, rng, config.tag));
/** Line numbers run on across runs, so no event is ever sent twice. */
let k = 0;

async function run(cmd: Extract<UdpSenderCommand, { type: 'run' }>): Promise<void> {
  const socket: Socket = createSocket(cmd.host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(cmd.port, cmd.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A deep send buffer: a sender blocked by its own socket would under-offer.
  socket.setSendBufferSize(4 * 1024 * 1024);
  // Failed sends (the datagram did not leave); the socket's own `error` events (an ICMP error for
  // an earlier datagram) are only noted.
  let errors = 0;
  let firstError = '';
  socket.on('error', (err) => {
    firstError ||= err.message;
  });
  let completed = 0;
  const done = (err: Error | null) => {
    completed++;
    if (err) {
      errors++;
      firstError ||= err.message;
    }
  };

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  for (;;) {
    const elapsed = performance.now() - t0;
    if (elapsed >= cmd.ms) break;
    let due = Math.floor((cmd.rate * elapsed) / 1000) - sent;
    if (due <= 0) {
      await sleep(1);
      continue;
    }
    if (due > 2048) due = 2048;
    for (let i = 0; i < due; i++) {
      const t = templates[(sent + i) % TEMPLATES] as BodyTemplate;
      stamp(t, config.index + k * config.senders);
      k++;
      // A copy per datagram: libuv may still hold it after send() returns (when the socket
      // buffer is full), and the template is re-stamped on the next round.
      const datagram = Buffer.allocUnsafe(t.buf.length - 1);
      t.buf.copy(datagram, 0, 0, t.buf.length - 1);
      socket.send(datagram, done);
    }
    sent += due;
    await yieldTurn();
  }
  const seconds = (performance.now() - t0) / 1000;
  const deadline = Date.now() + 5000;
  while (completed < sent && Date.now() < deadline) await sleep(5);
  const cpu = process.cpuUsage(cpu0);
  await new Promise<void>((r) => socket.close(() => r()));
  send({ type: 'result', result: { sent: sent - errors, errors, firstError, seconds, cpuMs: (cpu.user + cpu.system) / 1000 } });
}

process.on('message', (cmd: UdpSenderCommand) => {
  if (cmd.type === 'exit') process.exit(0);
  run(cmd).catch((err: Error) => send({ type: 'error', message: err.stack ?? err.message }));
});
// Detached into its own session: leave with the parent, never outlive it.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
