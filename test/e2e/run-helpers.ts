/**
 * Helpers for the agent's end-to-end tests (`logsrv run`/`send`/`flush`): spawn the built
 * program with its stdout kept as bytes (the tee must be byte-exact), follow a session's SSE tail
 * with the time each event arrived, and turn stored events back into what the command printed.
 * Child processes are killed after the test like those of helpers.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { TestContext } from 'node:test';
import { after, before } from 'node:test';
import type { ServerProcess, StoredEvent } from './helpers.js';
import { BIN, childEnv, ROOT, startServer, tempDir } from './helpers.js';

export interface AgentResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** performance.now() when the process exited. */
  exitedAt: number;
}

export interface AgentProcess {
  proc: ChildProcess;
  done: Promise<AgentResult>;
  stderr(): string;
}

type Hooked = Pick<TestContext, 'after'>;

/**
 * Starts `node bin/logsrv ARGS...` with `env` (LOGSRV_* of the test process are not passed on)
 * and optional stdin bytes; SIGKILLed after `timeoutMs` and after the test.
 */
export function startAgent(t: Hooked, args: string[], opts: { env?: Record<string, string>; stdin?: Buffer | string; timeoutMs?: number } = {}): AgentProcess {
  const proc = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: childEnv(opts.env),
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  proc.stdout?.on('data', (b: Buffer) => out.push(b));
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  if (opts.stdin !== undefined) proc.stdin?.end(opts.stdin);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const done = new Promise<AgentResult>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err, exitedAt: performance.now() });
    });
  });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return { proc, done, stderr: () => err };
}

/** `logsrv run` with the server and a private spool dir, to completion. */
export function runAgent(t: Hooked, server: string, spoolDir: string, args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  return startAgent(t, ['run', ...args], { ...opts, env: { LOGSRV_SERVER: server, LOGSRV_SPOOL: spoolDir, ...(opts.env ?? {}) } }).done;
}

export interface Arrival {
  event: StoredEvent;
  /** performance.now() when the frame was read. */
  at: number;
}

/**
 * Follows `GET /v1/sessions/:s/tail` (raw SSE over node:http) until `event: end` or `stop()`.
 * Minimal on purpose: one connection, no resume — a test that needs resuming fails instead.
 */
export function followTail(server: string, session: string): { arrivals: Arrival[]; ended: Promise<'end' | 'closed'>; stop(): void } {
  const arrivals: Arrival[] = [];
  let req: http.ClientRequest | undefined;
  let stopped = false;
  const ended = new Promise<'end' | 'closed'>((resolve, reject) => {
    req = http.get(`${server}/v1/sessions/${encodeURIComponent(session)}/tail`, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`tail answered ${res.statusCode}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (s: string) => {
        const at = performance.now();
        buf += s;
        let cut = buf.indexOf('\n\n');
        while (cut !== -1) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          cut = buf.indexOf('\n\n');
          const type = /^event: (.*)$/m.exec(frame)?.[1];
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (type === 'event' && data) arrivals.push({ event: JSON.parse(data) as StoredEvent, at });
          if (type === 'end') {
            resolve('end');
            res.destroy();
          }
        }
      });
      res.on('close', () => resolve('closed'));
    });
    req.on('error', (e) => (stopped ? resolve('closed') : reject(e)));
  });
  return {
    arrivals,
    ended,
    stop: () => {
      stopped = true;
      req?.destroy();
    },
  };
}

/** Lines of one stream as the command printed them: `partial` pieces joined to the piece that ends them. */
export function joinedLines(events: StoredEvent[], key: string): string[] {
  const out: string[] = [];
  let acc = '';
  for (const e of events) {
    if (e.key !== key) continue;
    const attrs = (e.attrs ?? {}) as { partial?: boolean };
    if (attrs.partial) acc += e.value as string;
    else {
      out.push(acc + (e.value as string));
      acc = '';
    }
  }
  if (acc) out.push(acc);
  return out;
}

/** A node one-liner as argv for `logsrv run -- ...`. */
export function nodeScript(code: string): string[] {
  return [process.execPath, '-e', code];
}

/**
 * One server and one spool dir for all tests of a describe() block (a server start costs about
 * a second and a half here): started in its before hook, stopped and removed in its after hook.
 * Tests use their own sessions.
 */
export function suiteServer(): { server(): ServerProcess; spool(): string } {
  let server: ServerProcess | undefined;
  let spool: string | undefined;
  const cleanups: (() => unknown)[] = [];
  const suite = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as Hooked;
  before(async () => {
    server = await startServer(suite);
    spool = tempDir(suite);
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  return { server: () => server as ServerProcess, spool: () => spool as string };
}
