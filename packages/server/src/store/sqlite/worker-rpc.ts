/**
 * A minimal request/response protocol over a worker's message port: each request carries an id,
 * each response answers it. The calling side keeps a map of pending promises; the worker side
 * runs a synchronous handler per message (SQLite is synchronous anyway).
 */
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import { Worker } from 'node:worker_threads';

export interface WorkerRequest {
  op: string;
  [arg: string]: unknown;
}

interface Envelope {
  rid: number;
  req: WorkerRequest;
}

interface Reply {
  rid: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

const transfers = new WeakMap<object, ArrayBuffer[]>();

/**
 * Marks buffers of a handler's answer to be moved to the caller instead of copied: the handler
 * must not touch them afterwards. Only buffers it owns whole (never Node's shared Buffer pool:
 * moving that would detach it under every later small Buffer of the thread).
 */
export function transferWith<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  transfers.set(value, buffers);
  return value;
}

export function serveRequests(handler: (req: WorkerRequest) => unknown, port: MessagePort | null): void {
  if (!port) throw new Error('must run in a worker thread');
  port.on('message', (msg: Envelope) => {
    let reply: Reply;
    try {
      reply = { rid: msg.rid, ok: true, value: handler(msg.req) };
    } catch (err) {
      reply = { rid: msg.rid, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    const transfer = typeof reply.value === 'object' && reply.value !== null ? transfers.get(reply.value) : undefined;
    port.postMessage(reply, transfer);
  });
}

/** The calling side of one worker. If the worker dies, every pending and later call rejects. */
export class WorkerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextRid = 1;
  private dead: Error | null = null;

  /** `onExit` runs once when the worker is gone (error or exit). */
  constructor(file: URL, workerData: unknown, opts: { transferList?: TransferListItem[]; onExit?: () => void } = {}) {
    this.worker = new Worker(file, { workerData, transferList: opts.transferList });
    if (opts.onExit) this.worker.once('exit', opts.onExit);
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.rid);
      if (!p) return;
      this.pending.delete(r.rid);
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`storage worker exited with code ${code}`)));
  }

  get inFlight(): number {
    return this.pending.size;
  }

  call<T>(req: WorkerRequest): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const rid = this.nextRid++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(rid, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ rid, req } satisfies Envelope);
    });
  }

  async terminate(): Promise<void> {
    this.dead ??= new Error('storage worker closed');
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }
}
