/**
 * The frontail baseline (https://github.com/mthenw/frontail): a peer tool that streams a log file
 * to browsers over socket.io. It is installed at bench time into a temp dir with
 * `npm install --no-save` (never a dependency of this repository), started with
 * `--disable-usage-stats`, and read by the socket.io client its own socket.io server depends on.
 * It tails a file (`tail -F`) and keeps nothing: the comparison is latency only.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './logsrv-process.ts';

const VERSION = '4';

/** Installs frontail into `dir` (reused when already there); returns the dir. */
export function installFrontail(dir: string, log: (m: string) => void): string {
  if (!existsSync(join(dir, 'node_modules', 'frontail', 'bin', 'frontail'))) {
    mkdirSync(dir, { recursive: true });
    log(`installing frontail@${VERSION} into ${dir} (npm install --no-save)`);
    execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `frontail@${VERSION}`], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return dir;
}

interface SocketLike {
  on(event: string, fn: (...args: unknown[]) => void): void;
  close(): void;
}

export interface FrontailProcess {
  /** Connects a socket.io client to the file's namespace; `onLine` gets each line as it arrives. */
  connect(onLine: (line: string) => void): Promise<{ close(): void }>;
  stop(): Promise<void>;
}

/** Starts frontail on a free loopback port, following `file`. */
export async function startFrontail(installDir: string, file: string): Promise<FrontailProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [join(installDir, 'node_modules', 'frontail', 'bin', 'frontail'), '--disable-usage-stats', '-h', '127.0.0.1', '-p', String(port), '-n', '1', file],
    // Its own process group: frontail runs `tail -F` and does not stop it on SIGTERM.
    { cwd: installDir, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err = (err + b.toString()).slice(-8000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`frontail exited (code ${child.exitCode}): ${err}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`frontail did not answer on ${url}: ${err}`);
    await sleep(50);
  }
  // frontail's socket.io namespace is the md5 of its file arguments joined by spaces.
  const namespace = createHash('md5').update(file).digest('hex');
  const require = createRequire(join(installDir, 'node_modules', 'frontail', 'index.js'));
  const io = require('socket.io-client') as (url: string, opts: Record<string, unknown>) => SocketLike;
  return {
    async connect(onLine) {
      const socket = io(`${url}/${namespace}`, { path: '/socket.io', transports: ['websocket'], forceNew: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('socket.io connect timed out')), 10_000);
        socket.on('connect', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      socket.on('line', (line) => onLine(String(line)));
      return { close: () => socket.close() };
    },
    async stop() {
      const exited = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
      try {
        process.kill(-(child.pid as number), 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
    },
  };
}
