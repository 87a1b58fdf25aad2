/**
 * The real server as a child process: `node bin/logsrv serve` on a free loopback port with its own
 * data directory. The benchmark owns the process: it starts it, reads /metrics and the per-thread
 * CPU of it from /proc, and stops it with SIGTERM (a clean stop drains the queue and checkpoints).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port that was free a moment ago; the caller retries if another process takes it first. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** CPU time (user + system, ms) of each thread of a process, by thread id. Linux /proc only. */
export function threadCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      // Fields after the parenthesised name: state is field 3, utime 14, stime 15 (clock ticks of 10 ms).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // The thread ended between readdir and read.
    }
  }
  return out;
}

/**
 * CPU ms per thread role between two readings of {@link threadCpuMs}: `main` for the process's
 * own thread, else the name the thread gave itself (the server names its threads `logsrv-writer`,
 * `logsrv-index`, ... see packages/server/src/thread-name.ts); `node` gathers Node.js's and V8's
 * own threads (garbage collection, the file-system pool).
 */
export function cpuByRole(pid: number, before: Map<number, number>, after: Map<number, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [tid, ms1] of after) {
    const used = ms1 - (before.get(tid) ?? 0);
    if (used <= 0) continue;
    let role = 'main';
    if (tid !== pid) {
      try {
        role = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1')
          .trim()
          .replace(/^logsrv-/, '');
      } catch {
        role = 'ended';
      }
    }
    out.set(role, (out.get(role) ?? 0) + used);
  }
  return out;
}

/** `role figure` for each role, busiest first: the CPU split as the benchmarks print it. */
export function describeRoles(roles: Iterable<[string, number]>, figure: (ms: number) => string): string {
  return [...roles]
    .sort((a, b) => b[1] - a[1])
    .map(([role, ms]) => `${role} ${figure(ms)}`)
    .join(', ');
}

/**
 * A CPU split as µs per event: the roles' CPU ms added up (`ms`), that per event (`total`) and
 * each role's, busiest first (`byRole`, as {@link describeRoles} writes it), two decimals each.
 */
export function cpuPerEvent(roles: Map<string, number>, events: number): { ms: number; total: string; byRole: string } {
  const us = (ms: number) => ((ms * 1000) / events).toFixed(2);
  const ms = [...roles.values()].reduce((s, x) => s + x, 0);
  return { ms, total: us(ms), byRole: describeRoles(roles, us) };
}

/** The seconds the server's writer waited for its search index (a counter in /metrics), for the benchmarks that print that wait. */
export const INDEX_WAIT_METRIC = 'logsrv_search_index_wait_seconds_total';

/** How much one sample grew between two `LogsrvProcess.metrics()` scrapes (absent: 0). */
export function metricDelta(before: Map<string, number>, after: Map<string, number>, name: string): number {
  return (after.get(name) ?? 0) - (before.get(name) ?? 0);
}

export interface LogsrvProcess {
  url: string;
  pid: number;
  /** Prometheus samples by `name{labels}`. */
  metrics(): Promise<Map<string, number>>;
  /** SIGTERM, then waits for a clean exit; throws with the server's output if it was not clean. */
  stop(): Promise<void>;
  /** The last 64 KiB the server wrote to stdout and stderr. */
  output(): string;
}

export interface StartOptions {
  repoRoot: string;
  dataDir: string;
  /** More `serve` flags. */
  args?: string[];
  /** Flags for node itself, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function startOnce(o: StartOptions, port: number): Promise<LogsrvProcess | 'port-taken'> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      ...(o.nodeArgs ?? []),
      join(o.repoRoot, 'bin/logsrv'),
      'serve',
      '--http',
      `127.0.0.1:${port}`,
      '--udp',
      '127.0.0.1:0',
      '--data',
      o.dataDir,
      ...(o.args ?? []),
    ],
    { cwd: o.repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > 128 * 1024) out = out.slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let gone = false;
  child.once('exit', () => {
    gone = true;
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (gone) {
      if (/EADDRINUSE/.test(out)) return 'port-taken';
      throw new Error(`logsrv serve exited during start (code ${child.exitCode}):\n${out}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) {
        await res.arrayBuffer();
        break;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`logsrv serve did not answer ${url}/healthz within 30 s:\n${out}`);
    }
    await sleep(50);
  }

  return {
    url,
    pid: child.pid as number,
    async metrics() {
      const res = await fetch(`${url}/metrics`);
      if (!res.ok) throw new Error(`GET ${url}/metrics answered ${res.status}`);
      const samples = new Map<string, number>();
      for (const line of (await res.text()).split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const cut = line.lastIndexOf(' ');
        samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
      }
      return samples;
    },
    async stop() {
      if (!gone) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      const code = await exited(child);
      clearTimeout(timer);
      if (code !== 0) throw new Error(`logsrv serve did not stop cleanly (exit code ${code}, signal ${child.signalCode}):\n${out.slice(-8000)}`);
    },
    output: () => out,
  };
}

export async function startLogsrv(o: StartOptions): Promise<LogsrvProcess> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = await startOnce(o, await freePort());
    if (started !== 'port-taken') return started;
  }
  throw new Error('could not find a free port for logsrv serve after 5 attempts');
}
