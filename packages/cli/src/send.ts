/**
 * `logsrv send --session S [--key stdout]` (SPEC §4, contract): lines piped on stdin become
 * events, exactly as `logsrv run` makes them from a command's output (output-lines.ts), and
 * stdin is copied to stdout unchanged (`--no-tee` to stop that), so `make 2>&1 | logsrv send -s S`
 * still shows the build. At the end of stdin it sends `session.end` (`{"reason": "end of input"}`, or the signal that stopped it), so tails of
 * the session end too, unless `--keep-open` (more output follows in this session). Exits 0 once everything is delivered or kept in the spool for a later
 * delivery (said on stderr); 1 when the server refused the token or rejected events.
 */
import { HttpSender } from '@logsrv/client/agent';
import type { Command } from 'commander';
import {
  addAgentOptions,
  agentSettings,
  checkName,
  DEFAULT_MAX_LINE_BYTES,
  finishLeftovers,
  intOption,
  noticePrinter,
  say,
  spoolReport,
  startLeftovers,
} from './agent-common.js';
import { type EventBase, OutputCapture } from './output-capture.js';

interface SendFlags {
  session: string;
  key: string;
  step?: string;
  tee: boolean;
  keepOpen?: boolean;
  maxLineBytes: number;
  server?: string;
  token?: string;
  spool?: string;
  flushTimeoutMs: number;
}

export function registerSend(program: Command): void {
  const cmd = program
    .command('send')
    .description('send the lines piped on stdin to the server, one event per line')
    .requiredOption('--session <id>', 'session to log into')
    .option('--key <key>', 'event key of every line', 'stdout')
    .option('--step <name>', 'step name recorded on every event')
    .option('--no-tee', 'do not copy stdin to stdout')
    .option('--keep-open', 'more output follows in this session: do not send session.end at the end of stdin, so tails do not end')
    .option('--max-line-bytes <n>', 'longer lines are sent as several consecutive events (attrs.partial)', intOption(64), DEFAULT_MAX_LINE_BYTES);
  addAgentOptions(cmd, true);
  cmd.action(async (flags: SendFlags) => {
    process.exit(await send(flags));
  });
}

async function send(flags: SendFlags): Promise<number> {
  const name = 'send';
  const settings = agentSettings(name, flags);
  checkName(name, '--session', flags.session);
  checkName(name, '--key', flags.key);
  checkName(name, '--step', flags.step);
  let capture: OutputCapture | undefined;
  const sender = new HttpSender({
    server: settings.server,
    token: settings.token,
    spoolDir: settings.spoolDir,
    session: flags.session,
    onNotice: noticePrinter(name),
    onAck: () => capture?.onSenderProgress(),
  });
  const leftovers = startLeftovers(name, settings);
  const base: EventBase = flags.step === undefined ? { session: flags.session } : { session: flags.session, step: flags.step };
  capture = new OutputCapture(sender, base, flags.maxLineBytes, settings.spoolDir, (m) => say(name, m));
  const input = capture.add(process.stdin, flags.tee ? process.stdout : null, flags.key);
  let signal: NodeJS.Signals | null = null;
  let flushing = false;
  const onSignal = (sig: NodeJS.Signals) => {
    signal ??= sig;
    if (flushing) {
      sender.interrupt();
      leftovers.stop();
    } else input.abandon(); // deliver what was read, then exit
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await input.done;
  let lastAck = sender.acknowledged;
  let stalledSince = performance.now();
  await capture.finish(() => {
    if (sender.acknowledged !== lastAck) {
      lastAck = sender.acknowledged;
      stalledSince = performance.now();
    }
    return signal !== null || sender.unreachable || performance.now() - stalledSince > settings.flushTimeoutMs;
  });
  // The end of the input ends the session (tails end with it) unless more output follows.
  if (!flags.keepOpen) sender.send({ ...base, key: 'session.end', value: { reason: signal ?? 'end of input' }, ts: Date.now() });
  flushing = true;
  const report = await sender.close(settings.flushTimeoutMs);
  await finishLeftovers(name, leftovers, report.delivered ? settings.flushTimeoutMs : 0);
  const message = spoolReport(name, settings, report);
  if (message) process.stderr.write(`${message}\n`);
  if (signal === 'SIGINT') return 130;
  if (signal === 'SIGTERM') return 143;
  return report.refused || report.rejected > 0 || report.lost > 0 ? 1 : 0;
}
