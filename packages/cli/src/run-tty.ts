/**
 * `logsrv run --tty`: the command runs in a pseudo-terminal (node-pty), as CI runners do, so it
 * sees a terminal: tools that colour or draw progress bars only for a terminal do so, and what it
 * prints on stdout and stderr reaches us through one device in the exact order it was written.
 * The price: a terminal has one output stream, so stdout and stderr can no longer be told apart —
 * everything is captured as `stdout` — and the terminal's line discipline turns `\n` into `\r\n`
 * (stored lines end the same way either way; see output-lines.ts).
 *
 * Input: when our stdin is a terminal it is put in raw mode and every key goes to the command's
 * terminal (Ctrl-C becomes the command's SIGINT there, as in any terminal); when it is not, its
 * bytes are forwarded and its end becomes an end-of-file (Ctrl-D) for the command. The
 * pseudo-terminal takes our terminal's size (80×24 when there is none) and follows it.
 *
 * node-pty is loaded only here, so `logsrv run` without `--tty` does not pay for it.
 */
import { accessSync, constants as fsConstants, readSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, join } from 'node:path';
import { PassThrough } from 'node:stream';

export interface TtyExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: NodeJS.ErrnoException;
}

export interface TtyChild {
  /** Everything the command wrote to its terminal, as bytes; ends after the command exits. */
  output: PassThrough;
  exited: Promise<TtyExit>;
  kill(signal: NodeJS.Signals): void;
  /** Gives the terminal back (raw mode off, listeners removed). */
  release(): void;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** Where `file` would be executed from, or the reason it cannot be (the shell's 127 / 126). */
function resolveCommand(file: string): { path: string } | { error: NodeJS.ErrnoException } {
  const candidates = file.includes('/') ? [file] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d || '.', file));
  let denied = false;
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
    } catch {
      continue;
    }
    try {
      accessSync(c, fsConstants.X_OK);
      return { path: c };
    } catch {
      denied = true;
    }
  }
  const code = denied ? 'EACCES' : 'ENOENT';
  return { error: Object.assign(new Error(denied ? 'permission denied' : 'command not found'), { code }) };
}

/** The parts of node-pty's Unix terminal (1.x) that {@link keepLastOutput} needs; not in its typings. */
interface UnixTerminalInternals {
  _socket?: { destroy: (error?: Error) => unknown; read: () => unknown; destroyed: boolean };
  _fd?: number;
}

/**
 * node-pty ends the terminal's read stream in two ways that drop the command's last output
 * (microsoft/node-pty#72, "data events can be fired after exit"):
 * - the read that finds the command's side closed (EIO) destroys the stream, and with it what the
 *   stream had buffered but not yet emitted because we paused it (backpressure above);
 * - 200 ms after the command exits, if that read has not happened yet, it destroys the stream
 *   whatever the terminal still holds: on a loaded machine the timer runs before the event loop
 *   polls the terminal (timers come first in a turn), or the stream is paused.
 * Both go through the stream's `destroy`. Before it runs, the output is taken out: what the
 * stream buffered (`read()` emits it to the `onData` listeners, in order), then what the terminal
 * still has, read directly from its master side (non-blocking: node-pty sets O_NONBLOCK, so a
 * background process still holding the terminal open ends the loop with EAGAIN, not a hang).
 * Memory: at most what the kernel buffers for a terminal (tens of KiB), once.
 *
 * These are internals of node-pty 1.x (`_socket`, `_fd`); when they are missing nothing is
 * hooked, and the test of this file (run-tty.int.test.ts) fails.
 */
function keepLastOutput(child: unknown, take: (data: Buffer) => void): void {
  const inner = child as UnixTerminalInternals;
  const socket = inner._socket;
  const fd = inner._fd;
  if (socket === undefined || typeof socket.destroy !== 'function' || typeof socket.read !== 'function' || typeof fd !== 'number') return;
  const destroy = socket.destroy;
  let salvaged = false;
  socket.destroy = function (this: unknown, error?: Error) {
    if (!salvaged && !socket.destroyed) {
      salvaged = true;
      while (socket.read() !== null) {
        // Each chunk read is emitted as 'data' to the terminal's listeners.
      }
      const buf = Buffer.allocUnsafe(64 * 1024);
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch {
          break; // EIO: the command's side is closed and drained; EAGAIN: nothing more now.
        }
        if (n <= 0) break;
        take(Buffer.from(buf.subarray(0, n)));
      }
    }
    return destroy.call(this, error);
  };
}

export async function spawnTty(file: string, args: string[]): Promise<TtyChild> {
  const output = new PassThrough();
  const found = resolveCommand(file);
  if ('error' in found) {
    output.end();
    return { output, exited: Promise.resolve({ code: null, signal: null, error: found.error }), kill() {}, release() {} };
  }
  const pty = await import('node-pty');
  const size = () => ({ cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
  const child = pty.spawn(found.path, args, {
    name: process.env.TERM || 'xterm-256color',
    ...size(),
    cwd: process.cwd(),
    env: process.env as Record<string, string>,
    encoding: null,
  });
  // Backpressure: while the capture (and our terminal behind it) is full, stop reading the pty,
  // so the command blocks on its terminal as it would on a slow one.
  // With `encoding: null` node-pty hands over Buffers (its typings say string).
  const take = (data: Buffer | string) => {
    if (!output.write(data)) child.pause();
  };
  child.onData(take);
  output.on('drain', () => child.resume());
  keepLastOutput(child, take);

  const onResize = () => {
    const s = size();
    child.resize(s.cols, s.rows);
  };
  if (process.stdout.isTTY) process.stdout.on('resize', onResize);
  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  const onInput = (b: Buffer) => child.write(b);
  const onInputEnd = () => child.write('\u0004');
  if (raw) stdin.setRawMode(true);
  stdin.on('data', onInput);
  if (!raw) stdin.once('end', onInputEnd);
  stdin.resume();

  const exited = new Promise<TtyExit>((resolve) => {
    child.onExit(({ exitCode, signal }) => {
      // node-pty reports the exit once the terminal's read stream is closed (at most 200 ms
      // after the command exited); whatever was left unread was taken into `output` before the
      // stream was destroyed (keepLastOutput).
      output.end();
      const name = signal ? (SIGNAL_NAMES.get(signal) ?? null) : null;
      resolve(name ? { code: null, signal: name } : { code: exitCode, signal: null });
    });
  });
  let released = false;
  return {
    output,
    exited,
    kill(sig) {
      try {
        child.kill(sig);
      } catch {
        // Already gone.
      }
    },
    release() {
      if (released) return;
      released = true;
      process.stdout.off('resize', onResize);
      stdin.off('data', onInput);
      stdin.off('end', onInputEnd);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    },
  };
}
