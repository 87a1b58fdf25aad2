/**
 * The parent side of the load generator (`bench/workers/ingest-client.ts`), which runs in its own
 * node process so that making requests never shares an event loop with measuring or serving them.
 * The child is driven over the IPC channel: one command at a time, each answered once.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';

export interface ClientConfig {
  /** `http://host:port` of the server. */
  url: string;
  eventsPerRequest: number;
  /** Concurrent keep-alive connections, each with one request in flight. */
  connections: number;
  /** Bytes of pre-generated body templates (each is stamped with new line numbers per send). */
  ringBytes: number;
  /** Session tag of this run: 4 characters, so rows match the baseline's in size. */
  tag: string;
  seed: number;
}

/** What one timed run of the client measured. Only requests answered 200 count. */
export interface ClientRunResult {
  /** From the first request to the last answer (in-flight requests finish after the deadline). */
  seconds: number;
  requests: number;
  /** Events the server reported as accepted. */
  accepted: number;
  /** Events the server reported as rejected (the workload has none, so any is a failure). */
  rejected: number;
  /** Body bytes of the requests answered 200. */
  bytes: number;
  /** Requests answered 503 (queue full), retried after 20 ms. */
  overloaded: number;
  /** Anything else: transport errors, unexpected statuses. */
  errors: string[];
  latencyMsP50: number;
  latencyMsP99: number;
  /** CPU time of the client process during the run. */
  cpuMs: number;
}

export type ClientMessage = { type: 'ready'; bodies: number; bytes: number } | { type: 'result'; result: ClientRunResult } | { type: 'error'; message: string };

export type ClientCommand = { type: 'run'; ms: number } | { type: 'exit' };

export class ClientProcess {
  private readonly child: ChildProcess;
  private waiting: { resolve: (m: ClientMessage) => void; reject: (e: Error) => void } | null = null;
  private stderr = '';

  private constructor(repoRoot: string, config: ClientConfig) {
    this.child = fork(join(repoRoot, 'bench/workers/ingest-client.ts'), [JSON.stringify(config)], {
      cwd: repoRoot,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child.stderr?.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString('utf8')).slice(-16_000);
    });
    this.child.on('message', (m: ClientMessage) => {
      const w = this.waiting;
      this.waiting = null;
      if (!w) return;
      if (m.type === 'error') w.reject(new Error(`load client failed: ${m.message}`));
      else w.resolve(m);
    });
    this.child.on('exit', (code, signal) => {
      const w = this.waiting;
      this.waiting = null;
      w?.reject(new Error(`load client exited (code ${code}, signal ${signal}):\n${this.stderr}`));
    });
  }

  /** Forks the client and waits until its bodies are generated. */
  static async start(repoRoot: string, config: ClientConfig): Promise<{ client: ClientProcess; bodies: number; bytes: number }> {
    const client = new ClientProcess(repoRoot, config);
    const m = await client.next();
    if (m.type !== 'ready') throw new Error(`load client: expected ready, got ${m.type}`);
    return { client, bodies: m.bodies, bytes: m.bytes };
  }

  /** Loads the server for `ms` milliseconds. */
  async run(ms: number): Promise<ClientRunResult> {
    const reply = this.next();
    this.child.send({ type: 'run', ms } satisfies ClientCommand);
    const m = await reply;
    if (m.type !== 'result') throw new Error(`load client: expected result, got ${m.type}`);
    return m.result;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'exit' } satisfies ClientCommand);
    await gone;
  }

  private next(): Promise<ClientMessage> {
    if (this.child.exitCode !== null) return Promise.reject(new Error(`load client has exited:\n${this.stderr}`));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }
}
