/**
 * The parent side of the UDP load generator (`bench/workers/udp-sender.ts`): several sender
 * processes offering one rate together. One Node process tops out well below 200k datagrams/s
 * here (each send is a syscall that, on loopback, also runs the receiver's network stack), so the
 * rate is split evenly across processes, and what they achieved is reported, not what was asked.
 *
 * Each sender runs in its own session (`detached`, i.e. setsid): with Linux's autogroup scheduling
 * (on here) CPU is shared fairly between sessions first, so senders in the benchmark's session
 * would take their CPU out of the receiver's share — as senders on other machines would not.
 *
 * Senders may also run at a lower priority (`nice`): on a small machine they share the cores with the
 * receiver under test, which in a deployment they would not; a positive nice value lets the
 * receiver's threads run first, and a sender that then falls short shows in the achieved rate.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { join } from 'node:path';

export interface UdpSenderConfig {
  /** This sender's number, 0..senders-1: its line numbers are `index + k × senders`. */
  index: number;
  senders: number;
  /** Session tag of the run: 4 characters, like the other ingest benchmarks. */
  tag: string;
  seed: number;
  /** What each datagram holds: an NDJSON event (default) or a syslog message. */
  format?: 'json' | 'syslog';
}

export interface UdpSenderResult {
  /** Datagrams the OS accepted for sending. */
  sent: number;
  /** Sends that failed (not counted in `sent`). */
  errors: number;
  firstError: string;
  /** From the first send to the last. */
  seconds: number;
  cpuMs: number;
}

export type UdpSenderMessage = { type: 'ready' } | { type: 'result'; result: UdpSenderResult } | { type: 'error'; message: string };

export type UdpSenderCommand = { type: 'run'; host: string; port: number; rate: number; ms: number } | { type: 'exit' };

/** What all senders did in one run together. */
export interface OfferedLoad {
  sent: number;
  errors: number;
  firstError: string;
  /** The longest sender's window. */
  seconds: number;
  /** `sent / seconds`: the rate actually offered. */
  rate: number;
  /** CPU of all sender processes, % of one core. */
  cpuPct: number;
}

class SenderProcess {
  private readonly child: ChildProcess;
  private waiting: { resolve: (m: UdpSenderMessage) => void; reject: (e: Error) => void } | null = null;
  private stderr = '';

  constructor(repoRoot: string, config: UdpSenderConfig, nice: number) {
    this.child = fork(join(repoRoot, 'bench/workers/udp-sender.ts'), [JSON.stringify(config)], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      detached: true,
    });
    // Threads created later (libuv's pool) inherit it; those already running keep theirs, and
    // the main thread, the one that sends, is the process itself.
    if (nice !== 0 && this.child.pid) setPriority(this.child.pid, nice);
    this.child.stderr?.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString('utf8')).slice(-16_000);
    });
    this.child.on('message', (m: UdpSenderMessage) => {
      const w = this.waiting;
      this.waiting = null;
      if (!w) return;
      if (m.type === 'error') w.reject(new Error(`UDP sender failed: ${m.message}`));
      else w.resolve(m);
    });
    this.child.on('exit', (code, signal) => {
      const w = this.waiting;
      this.waiting = null;
      w?.reject(new Error(`UDP sender exited (code ${code}, signal ${signal}):\n${this.stderr}`));
    });
  }

  next(): Promise<UdpSenderMessage> {
    if (this.child.exitCode !== null) return Promise.reject(new Error(`UDP sender has exited:\n${this.stderr}`));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  command(c: UdpSenderCommand): void {
    this.child.send(c);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'exit' } satisfies UdpSenderCommand);
    await gone;
  }
}

export class UdpSenders {
  private constructor(private readonly procs: SenderProcess[]) {}

  /** Forks `count` senders at priority `nice` and waits until their events are generated. */
  static async start(repoRoot: string, count: number, tag: string, nice = 0, format: 'json' | 'syslog' = 'json'): Promise<UdpSenders> {
    const procs: SenderProcess[] = [];
    for (let index = 0; index < count; index++) procs.push(new SenderProcess(repoRoot, { index, senders: count, tag, seed: 1000 + index, format }, nice));
    const ready = await Promise.all(procs.map((p) => p.next()));
    for (const m of ready) if (m.type !== 'ready') throw new Error(`UDP sender: expected ready, got ${m.type}`);
    return new UdpSenders(procs);
  }

  get count(): number {
    return this.procs.length;
  }

  /** Offers `rate` datagrams/s in total to `host:port` for `ms` milliseconds. */
  async offer(host: string, port: number, rate: number, ms: number): Promise<OfferedLoad> {
    const share = rate / this.procs.length;
    const replies = this.procs.map((p) => p.next());
    for (const p of this.procs) p.command({ type: 'run', host, port, rate: share, ms });
    const results: UdpSenderResult[] = [];
    for (const m of await Promise.all(replies)) {
      if (m.type !== 'result') throw new Error(`UDP sender: expected result, got ${m.type}`);
      results.push(m.result);
    }
    const sent = results.reduce((s, r) => s + r.sent, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    return {
      sent,
      errors: results.reduce((s, r) => s + r.errors, 0),
      firstError: results.find((r) => r.firstError)?.firstError ?? '',
      seconds,
      rate: sent / seconds,
      cpuPct: results.reduce((s, r) => s + r.cpuMs, 0) / 10 / seconds,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.close()));
  }
}
