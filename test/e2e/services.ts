/**
 * Real Redis and PostgreSQL for the scale-out tests. The fault tests stop and restart the
 * services, so they run private ones (a redis-server and a PostgreSQL cluster of their own, on
 * free ports in temp dirs) and never disturb the machine's, which other suites use at the same
 * time. A service that cannot be had fails the test under CI (CI=true) and skips it elsewhere,
 * with the reason printed.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import postgres from 'postgres';
import { sleep } from './helpers.js';

type Ctx = Pick<TestContext, 'after' | 'skip'>;

/** Fails under CI, skips elsewhere; returns null for the caller to return early. */
export function unavailable(t: Ctx, what: string, err: unknown): null {
  const msg = `${what}: ${(err as Error)?.message ?? String(err)}`;
  if (process.env.CI === 'true') throw new Error(`${msg} (CI=true: .ci/run installs and starts the services)`);
  process.stderr.write(`# skipping: ${msg}\n`);
  t.skip(msg);
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        res(true);
      });
      c.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await sleep(50);
  }
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** Kills it at once (its data is gone: it keeps nothing on disk, like the machine's). */
  kill(): Promise<void>;
  start(): Promise<void>;
}

export async function privateRedis(t: Ctx): Promise<PrivateRedis | null> {
  if (!existsSync('/usr/bin/redis-server')) return unavailable(t, 'redis-server is not installed', new Error('/usr/bin/redis-server missing'));
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-redis-'));
  let proc: ChildProcess | null = null;
  const r: PrivateRedis = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    async start() {
      proc = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: 'ignore',
      });
      await waitPort(port, 10_000);
    },
    async kill() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      const gone = new Promise((res) => p.once('exit', res));
      p.kill('SIGKILL');
      await gone;
    },
  };
  t.after(async () => {
    await r.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await r.start();
  } catch (err) {
    return unavailable(t, 'a private redis-server did not start', err);
  }
  return r;
}

export interface PrivatePostgres {
  url: string;
  stop(): void;
  start(): void;
}

function pgBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const v = readdirSync(root).sort().pop();
  return v ? join(root, v, 'bin') : null;
}

/** A PostgreSQL cluster of the test's own (initdb as the postgres user), so it can be stopped. */
export async function privatePostgres(t: Ctx): Promise<PrivatePostgres | null> {
  const bin = pgBin();
  if (!bin) return unavailable(t, 'PostgreSQL server binaries are not installed', new Error('/usr/lib/postgresql missing'));
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-pg-'));
  const data = join(dir, 'data');
  const asPostgres = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    if (asPostgres) execFileSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { stdio: 'pipe' });
    else execFileSync(join(bin, cmd), args, { stdio: 'pipe' });
  };
  if (asPostgres) {
    chmodSync(dir, 0o700);
    chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  }
  const pg: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start() {
      run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    },
    stop() {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
  };
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
    pg.start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return unavailable(t, 'a private PostgreSQL cluster did not start', err);
  }
  t.after(() => {
    try {
      pg.stop();
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return pg;
}

/** A fresh database on the machine's PostgreSQL (127.0.0.1:5432), dropped after the test. */
export async function freshDatabase(t: Ctx, prefix = 'logsrv_e2e'): Promise<string | null> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres('postgres://postgres@127.0.0.1:5432/test', { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end({ timeout: 1 });
    return unavailable(t, 'PostgreSQL at 127.0.0.1:5432 is not reachable', err);
  }
  t.after(async () => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end({ timeout: 1 });
  });
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}
