/**
 * Shared helpers for the end-to-end tests (STYLE rule 8): they spawn the built program
 * (`bin/logsrv`, so `npx tsc -b` must have run) and talk to it over real sockets only.
 *
 * Ownership: every child process and temp dir made here is registered on the calling test's
 * context and torn down in its `after` hook, so a failing assertion never leaks a server or a
 * data dir. A process-exit hook SIGKILLs whatever is still running as a last resort.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'logsrv');

if (!existsSync(join(ROOT, 'packages', 'cli', 'dist', 'main.js'))) {
  throw new Error('e2e tests run the built program: run `npx tsc -b` first');
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

type Hooked = Pick<TestContext, 'after'>;

/**
 * Cleanups of a test, run last registered first: node:test runs `after` hooks in the order they
 * were added, so a temp dir made before the server that writes into it would be removed while
 * that server still runs (ENOTEMPTY: its index and chunk threads still creating files there).
 */
const cleanups = new WeakMap<Hooked, (() => unknown)[]>();

export function onCleanup(t: Hooked, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const list: (() => unknown)[] = [];
    stack = list;
    cleanups.set(t, list);
    t.after(async () => {
      const errors: unknown[] = [];
      for (let f = list.pop(); f; f = list.pop()) {
        try {
          await f();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw errors[0];
    });
  }
  stack.push(fn);
}

/** A fresh temp dir, removed after the test, once the servers started after it have stopped. */
export function tempDir(t: Hooked, prefix = 'logsrv-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(t, () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }));
  return dir;
}

/** The environment of a child: ours without any LOGSRV_* (tests must be hermetic), plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LOGSRV_')) env[k] = v;
  // Servers started side by side must not fight over the default UDP port.
  return { ...env, LOGSRV_UDP: '127.0.0.1:0', ...extra };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  /** `http://127.0.0.1:PORT`, parsed from the server's 'listening on' line. */
  url: string;
  pid: number;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  stdout(): string;
  exited: Promise<Exit>;
  running(): boolean;
  kill(signal: NodeJS.Signals): void;
}

export interface StartOptions {
  /** Data dir; a fresh temp dir when omitted. */
  dataDir?: string;
  /** Extra arguments after `serve --http 127.0.0.1:0 --data DIR`. */
  args?: string[];
  env?: Record<string, string>;
  /** Omit `--http`/`--data` (a config file or env provides them). */
  bare?: boolean;
  /** Node's own flags, before the script (those NODE_OPTIONS does not take, such as --cpu-prof). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}

const LISTENING = /logsrv listening on (http:\/\/\S+)/;

/**
 * Spawns `node bin/logsrv serve` on a free port (`--http 127.0.0.1:0`) and resolves once it
 * printed its 'listening on' line. The process is the server itself (no shell in between), so
 * `pid` is what signals and /proc sampling address.
 */
export async function startServer(t: Hooked, opts: StartOptions = {}): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? tempDir(t);
  const base = opts.bare ? [] : ['--http', '127.0.0.1:0', '--data', dataDir, '--log-level', 'warn'];
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, 'serve', ...base, ...(opts.args ?? [])], {
    cwd: ROOT,
    env: childEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let err = '';
  let out = '';
  // Both pipes are always drained so the server never blocks on a full pipe.
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err = (err + s).slice(-1_000_000);
  });
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out = (out + s).slice(-1_000_000);
  });
  const exited = new Promise<Exit>((res) => {
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      res({ code, signal });
    });
  });
  const server: ServerProcess = {
    url: '',
    pid: proc.pid as number,
    dataDir,
    proc,
    stderr: () => err,
    stdout: () => out,
    exited,
    running: () => proc.exitCode === null && proc.signalCode === null,
    kill: (signal) => {
      if (server.running()) proc.kill(signal);
    },
  };
  onCleanup(t, async () => {
    if (!server.running()) return;
    proc.kill('SIGKILL');
    await exited;
  });
  const timeoutMs = opts.readyTimeoutMs ?? 15_000;
  server.url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not print 'listening on' within ${timeoutMs} ms; stderr:\n${err}`)), timeoutMs);
    const onData = () => {
      const m = LISTENING.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        proc.stderr?.off('data', onData);
        res(m[1]);
      }
    };
    proc.stderr?.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`server exited (code ${code}, signal ${signal}) before listening; stderr:\n${err}`));
    });
  });
  return server;
}

/** Waits for a process exit, failing after `ms`. */
export async function waitExit(server: ServerProcess, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`server still running after ${ms} ms; stderr:\n${server.stderr()}`)), ms);
  });
  try {
    return await Promise.race([server.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs `node bin/logsrv ARGS...` to completion (SIGKILLed after `timeoutMs`). */
export function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; uid?: number; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const ids = opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid };
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'], ...ids });
    children.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    proc.stderr?.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`logsrv ${args.join(' ')} still running after ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    proc.on('error', rej);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(proc);
      res({ code, signal, stdout, stderr });
    });
  });
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | Readable;
  agent?: http.Agent | false;
  timeoutMs?: number;
}

/**
 * One HTTP request over a real socket. A Readable body is piped (chunked transfer encoding), so
 * a generated body is never held whole. Rejects with the socket error (ECONNREFUSED,
 * ECONNRESET, ...) when there is no response.
 */
export function request(url: string, opts: RequestOptions = {}): Promise<Response> {
  return new Promise((res, rej) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent: opts.agent ?? false }, (r) => {
      const parts: Buffer[] = [];
      r.on('data', (b: Buffer) => parts.push(b));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, text: Buffer.concat(parts).toString('utf8') }));
      r.on('error', rej);
    });
    req.on('error', rej);
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`no response within ${opts.timeoutMs} ms`)));
    const body = opts.body;
    if (body instanceof Readable) {
      body.on('error', (e) => req.destroy(e));
      body.pipe(req);
    } else req.end(body);
  });
}

export function json<T = Record<string, unknown>>(r: Response): T {
  try {
    return JSON.parse(r.text) as T;
  } catch {
    throw new Error(`expected a JSON body, got status ${r.status}: ${r.text.slice(0, 500)}`);
  }
}

export interface IngestResult {
  accepted: number;
  rejected: { index: number; error: string; reason?: string }[];
  rejectedTotal?: number;
}

/** POST /v1/events with NDJSON lines (objects are serialized, strings sent as they are). */
export function postNdjson(base: string, lines: (string | object)[], opts: Omit<RequestOptions, 'body'> = {}): Promise<Response> {
  const body = `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`;
  return request(`${base}/v1/events`, { ...opts, method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...(opts.headers ?? {}) }, body });
}

export interface StoredEvent {
  id: string;
  session: string;
  key: string;
  value: unknown;
  ts: string;
  received: string;
  [field: string]: unknown;
}

export interface Page {
  events: StoredEvent[];
  next: string | null;
}

/** The URL of a session's events with the given query parameters. */
export function eventsUrl(base: string, session: string, params: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const qs = q.toString();
  return `${base}/v1/sessions/${encodeURIComponent(session)}/events${qs ? `?${qs}` : ''}`;
}

export async function readPage(base: string, session: string, params: Record<string, string | number | undefined> = {}): Promise<Page> {
  const r = await request(eventsUrl(base, session, params));
  if (r.status !== 200) throw new Error(`GET ${eventsUrl(base, session, params)}: ${r.status} ${r.text.slice(0, 500)}`);
  return json<Page>(r);
}

/** Runs `fn`; if it fails, the error also carries the end of the server's stderr (why a request failed). */
export async function withServerLog<T>(server: { stderr(): string }, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${(err as Error).message}; server stderr:\n${server.stderr().slice(-4000)}`);
  }
}

/** Every event of a session, paging with `next` until it is null. */
export async function readAll(base: string, session: string, params: { key?: string; limit?: number; after?: string } = {}): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let after: string | undefined = params.after;
  for (let pages = 0; ; pages++) {
    if (pages > 100_000) throw new Error('paging did not end');
    const page = await readPage(base, session, { key: params.key, limit: params.limit ?? 10_000, after });
    all.push(...page.events);
    if (page.next === null) return all;
    after = page.next;
  }
}

/**
 * Ids are opaque to clients (SPEC §1); the recommended encoding `<ms>-<seq>` is checked here
 * only where a test compares ids across a restart.
 */
export function compareIds(a: string, b: string): number {
  const pa = /^(\d+)-(\d+)$/.exec(a);
  const pb = /^(\d+)-(\d+)$/.exec(b);
  if (!pa || !pb) throw new Error(`ids not in <ms>-<seq> form: ${a}, ${b}`);
  const d = Number(pa[1]) - Number(pb[1]);
  return d !== 0 ? d : Number(pa[2]) - Number(pb[2]);
}

/**
 * A process's memory in bytes, from one read of /proc/PID/status (Linux): resident in all (VmRSS),
 * anonymous (RssAnon: heaps) and file-backed (RssFile: mapped files).
 */
export function memoryOf(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const m = new RegExp(`${name}:\\s+(\\d+)\\s+kB`).exec(status);
    if (!m) throw new Error(`no ${name} for pid ${pid}`);
    return Number(m[1]) * 1024;
  };
  return { rss: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  return memoryOf(pid).rss;
}

export const MiB = 1024 * 1024;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Socket errors that mean "the server did not take this request". */
export function isConnectionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || (err as Error).message === 'socket hang up';
}
