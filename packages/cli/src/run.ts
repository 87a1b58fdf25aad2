/**
 * `logsrv run [--session S] [--step NAME] -- COMMAND [ARGS...]` (SPEC §4, contract): the agent.
 *
 * Runs the command with stdin inherited and stdout/stderr through pipes; every chunk is written
 * unchanged to our stdout/stderr and split into line events (`stdout`/`stderr`, see
 * output-lines.ts) in the order the chunks were read. With two pipes that is the only order there
 * is: what the command wrote to both between two reads of ours cannot be ordered (the kernel keeps
 * no time for pipe writes). `--tty` (run-tty.ts) runs it in a pseudo-terminal instead: one stream,
 * exact order, colours — all of it `stdout`. Around them: `step.start`
 * `{command, cwd}` and `step.exit` `{code, signal, durationMs, final}`; `final` is true unless
 * `--keep-open`, so tails of the session end with the run.
 *
 * Signals: SIGTERM is forwarded to the command. SIGINT, SIGQUIT and SIGHUP are forwarded too,
 * except when stdin is a terminal: there the terminal already sent them to the command (same
 * process group), and a second copy could make it quit harder than the user asked. The agent
 * itself keeps running until the command exits, then flushes; a signal during that flush stops
 * waiting for the server (the rest stays in the spool).
 *
 * Exit code: the command's, 128+n when a signal ended it, 127 when it could not be found, 126
 * when it could not be executed.
 *
 * After the command exits, its output pipes are read until closed, at most OUTPUT_GRACE_MS more:
 * a background process it started may hold them open forever.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { isatty } from 'node:tty';
import { HttpSender } from '@logsrv/client/agent';
import type { Command } from 'commander';
import {
  addAgentOptions,
  agentSettings,
  checkName,
  DEFAULT_MAX_LINE_BYTES,
  finishLeftovers,
  generateSession,
  intOption,
  noticePrinter,
  say,
  spoolReport,
  startLeftovers,
} from './agent-common.js';
import { type EventBase, OutputCapture } from './output-capture.js';
import type { TtyChild } from './run-tty.js';
import { spawnTty } from './run-tty.js';

const OUTPUT_GRACE_MS = 2000;

/** Monotonic milliseconds; not `performance.now()`, whose first use loads perf_hooks before the command starts. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

interface RunFlags {
  session?: string;
  step?: string;
  keepOpen?: boolean;
  tty?: boolean;
  maxLineBytes: number;
  server?: string;
  token?: string;
  spool?: string;
  flushTimeoutMs: number;
}

export function registerRun(program: Command): void {
  // passThroughOptions (so `logsrv run ls -la` hands -la to ls) requires positional options on
  // the parent: program-level options must then come before the subcommand, which is the only
  // way they are used.
  program.enablePositionalOptions();
  const cmd = program
    .command('run')
    .description('run a command, show its output as usual, and stream its stdout/stderr to the server line by line')
    .usage('[options] -- COMMAND [ARGS...]')
    .argument('<command...>', 'the command to run and its arguments')
    .option('--session <id>', 'session to log into (default: a new one, printed to stderr)')
    .option('--step <name>', 'step name recorded on every event of this run')
    .option('--tty', 'run the command in a pseudo-terminal: colours, progress bars and the exact order of stdout and stderr, all sent as stdout')
    .option('--keep-open', 'more steps follow in this session: step.exit says final: false, so tails do not end')
    .option('--max-line-bytes <n>', 'longer lines are sent as several consecutive events (attrs.partial)', intOption(64), DEFAULT_MAX_LINE_BYTES)
    .passThroughOptions();
  addAgentOptions(cmd, true);
  cmd.action(async (command: string[], flags: RunFlags) => {
    const code = await runCommand(command, flags);
    process.exit(code);
  });
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: NodeJS.ErrnoException;
}

/** The command, run through pipes or a pseudo-terminal: what runCommand needs of either. */
interface Child {
  stdout: NodeJS.ReadableStream & { destroy?: () => void };
  /** null under --tty: one stream. */
  stderr: (NodeJS.ReadableStream & { destroy?: () => void }) | null;
  exited: Promise<Exit>;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(sig: NodeJS.Signals): void;
  release(): void;
}

function pipeChild(file: string, args: string[]): Child {
  const child = spawn(file, args, { stdio: ['inherit', 'pipe', 'pipe'] });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
  });
  return {
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    get exitCode() {
      return child.exitCode;
    },
    get signalCode() {
      return child.signalCode;
    },
    kill(sig) {
      if (child.pid !== undefined) child.kill(sig);
    },
    release() {},
  };
}

async function ttyChild(file: string, args: string[]): Promise<Child> {
  const t: TtyChild = await spawnTty(file, args);
  let done: Exit | null = null;
  const exited = t.exited.then((e) => (done = e));
  return {
    stdout: t.output,
    stderr: null,
    exited,
    get exitCode() {
      return done ? (done.code ?? -1) : null;
    },
    get signalCode() {
      return done?.signal ?? null;
    },
    kill: (sig) => t.kill(sig),
    release: () => t.release(),
  };
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (constants.signals[signal] ?? 0);
  return 1;
}

async function runCommand(argv: string[], flags: RunFlags): Promise<number> {
  const name = 'run';
  const settings = agentSettings(name, flags);
  checkName(name, '--session', flags.session);
  checkName(name, '--step', flags.step);
  const [file, ...args] = argv;
  if (!file) return 2;
  const session = flags.session ?? generateSession();
  if (flags.session === undefined) say(name, `session ${session} (follow it: logsrv tail ${session})`);

  let capture: OutputCapture | undefined;
  const sender = new HttpSender({
    server: settings.server,
    token: settings.token,
    spoolDir: settings.spoolDir,
    session,
    onNotice: noticePrinter(name),
    onAck: () => capture?.onSenderProgress(),
  });
  const leftovers = startLeftovers(name, settings);
  const base: EventBase = flags.step === undefined ? { session } : { session, step: flags.step };
  const started = Date.now();
  const t0 = monotonicMs();
  const startValue: Record<string, unknown> = { command: argv, cwd: process.cwd() };
  if (flags.tty) startValue.tty = true;
  sender.send({ ...base, key: 'step.start', value: startValue, ts: started });

  capture = new OutputCapture(sender, base, flags.maxLineBytes, settings.spoolDir, (m) => say(name, m));
  const child = flags.tty ? await ttyChild(file, args) : pipeChild(file, args);
  const out = capture.add(child.stdout, process.stdout, 'stdout');
  const err = child.stderr ? capture.add(child.stderr, process.stderr, 'stderr') : { done: Promise.resolve(), abandon() {} };

  const interactive = isatty(0);
  let flushing = false;
  let hurry = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) hurry = true;
    if (flushing) {
      // The user wants out: stop waiting for the server, keep the rest in the spool.
      sender.interrupt();
      leftovers.stop();
      return;
    }
    // Under --tty the command has a terminal of its own: no terminal signal reaches it but ours.
    if (sig !== 'SIGTERM' && interactive && !flags.tty) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, onSignal);

  const exit = await child.exited;
  child.release();
  capture.release();
  const durationMs = Math.round(monotonicMs() - t0);
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all([out.done, err.done]).then(() => true),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), OUTPUT_GRACE_MS))),
  ]);
  clearTimeout(timer);
  if (!drained) {
    say(name, `the command exited but its output is still open after ${OUTPUT_GRACE_MS} ms (a background process?); not waiting for it`);
    out.abandon();
    err.abandon();
  }

  // Output still waiting to become events goes at the server's pace; into the spool at once when
  // the server is unreachable, when a signal asks us to hurry, or when it stalls.
  let lastAck = sender.acknowledged;
  let stalledSince = monotonicMs();
  await capture.finish(() => {
    if (sender.acknowledged !== lastAck) {
      lastAck = sender.acknowledged;
      stalledSince = monotonicMs();
    }
    return hurry || sender.unreachable || monotonicMs() - stalledSince > settings.flushTimeoutMs;
  });

  let code: number;
  const exitValue: Record<string, unknown> = {};
  if (exit.error) {
    code = exit.error.code === 'ENOENT' ? 127 : exit.error.code === 'EACCES' ? 126 : 1;
    const why = exit.error.code === 'ENOENT' ? 'command not found' : exit.error.message;
    say(name, `cannot run ${JSON.stringify(file)}: ${why}`);
    Object.assign(exitValue, { code, signal: null, error: why });
  } else {
    code = exitCodeOf(exit.code, exit.signal);
    Object.assign(exitValue, { code: exit.code, signal: exit.signal });
  }
  Object.assign(exitValue, { durationMs, final: !flags.keepOpen });
  sender.send({ ...base, key: 'step.exit', value: exitValue, ts: Date.now() });

  flushing = true;
  const report = await sender.close(settings.flushTimeoutMs);
  await finishLeftovers(name, leftovers, report.delivered ? settings.flushTimeoutMs : 0);
  const message = spoolReport(name, settings, report);
  if (message) process.stderr.write(`${message}\n`);
  for (const s of signals) process.off(s, onSignal);
  return code;
}
