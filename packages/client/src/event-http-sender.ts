/**
 * The HTTP side of the event client: NDJSON `POST /v1/events` batches (SPEC §2) from a bounded
 * in-memory queue, one request at a time, in order.
 *
 * Why not {@link HttpSender} (the agent's sender): it never drops — past its memory bound, and
 * whenever the server is down, it spools to a file in the temp dir that `logsrv flush` delivers
 * later. That is right for a command's output and wrong inside someone's application, which must
 * not start writing files nor leave spools behind; here memory is the only buffer and overflow is
 * a counted drop (`buffer_full`). The request itself and the reading of the answer are shared:
 * {@link postNdjson}.
 *
 * Idempotency: each event is stamped with this sender's `producer` and a `seq` counting from 0
 * (unless the caller set `producer` itself), so a batch resent after a lost response is stored
 * once. The server skips a seq at or below the highest it committed for the producer, which is
 * why batches go one at a time and a failed one is retried before anything after it.
 *
 * Retries: network errors, timeouts, 408, 429 and 5xx are retried with exponential backoff
 * (`retryMinMs` doubling to `retryMaxMs`, ±25 % jitter) or after `Retry-After`; meanwhile new
 * events queue until the client's buffer bound. 400/413/415 drop the batch (`rejected`), 401/403
 * drop it (`refused`) and wait `retryMaxMs` before the next. Retry timers are unref'd: a client
 * waiting for a server that is down never keeps the process alive; `close()` is how a caller
 * waits for delivery.
 */
import http from 'node:http';
import https from 'node:https';
import type { EventAccounting } from './event-stats.js';
import { normalizeServer } from './http-sender.js';
import type { PostHandle, PostOutcome, PostTarget } from './post-events.js';
import { postNdjson } from './post-events.js';
import { SettleTracker } from './settle-tracker.js';

export interface EventHttpSenderOptions {
  url: string;
  token?: string | undefined;
  producer: string;
  maxBatchBytes: number;
  requestTimeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  acct: EventAccounting;
}

interface Batch {
  body: string;
  count: number;
  /** Accounted bytes of each event, for partial rejections. */
  sizes: number[];
  bytes: number;
}

export class EventHttpSender {
  private readonly o: EventHttpSenderOptions;
  private readonly target: PostTarget;
  private readonly stampSuffix: string;
  private readonly progress = new SettleTracker();
  private seq = 0;
  private lines: string[] = [];
  private sizes: number[] = [];
  private head = 0;
  private running = false;
  private stopped = false;
  private handle: PostHandle | null = null;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  private idleWaiter: (() => void) | null = null;

  constructor(o: EventHttpSenderOptions) {
    this.o = o;
    const base = normalizeServer(o.url);
    const agentOpts = { keepAlive: true, maxSockets: 1 };
    const agent = base.startsWith('https:') ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.target = { base, token: o.token, agent, timeoutMs: o.requestTimeoutMs };
    this.stampSuffix = `"producer":${JSON.stringify(o.producer)},"seq":`;
  }

  get url(): string {
    return this.target.base;
  }

  /** Takes one event. `json` is one line holding a JSON object. */
  push(json: string, bytes: number, ownProducer: boolean): void {
    this.o.acct.enqueue(bytes);
    this.progress.pushed++;
    this.lines.push(ownProducer ? json : `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}${this.stampSuffix}${this.seq++}}`);
    this.sizes.push(bytes);
    if (!this.running) {
      this.running = true;
      // On the next turn, so that events queued in one synchronous burst share a request.
      setImmediate(() => void this.run());
    }
  }

  /** True once every event queued so far was sent or dropped before `deadline`. */
  flush(deadline: number): Promise<boolean> {
    this.wake();
    return this.progress.waitForPushed(deadline);
  }

  /** Delivers until `deadline`, then gives up: aborts the request in flight, drops the rest. */
  async close(deadline: number): Promise<void> {
    if (this.stopped) return;
    await this.flush(deadline);
    this.stopped = true;
    this.handle?.abort();
    this.wake();
    if (this.running) await new Promise<void>((r) => (this.idleWaiter = r));
    this.dropRest('close_timeout', 'still queued when close() timed out');
    this.target.agent.destroy();
  }

  private take(): Batch | null {
    const start = this.head;
    if (start >= this.lines.length) return null;
    let end = start;
    let size = 0;
    let bytes = 0;
    while (end < this.lines.length) {
      const line = this.lines[end] as string;
      if (end > start && size + line.length + 1 > this.o.maxBatchBytes) break;
      size += line.length + 1;
      bytes += this.sizes[end] as number;
      end++;
    }
    const body = `${this.lines.slice(start, end).join('\n')}\n`;
    const sizes = this.sizes.slice(start, end);
    this.head = end;
    if (end === this.lines.length) {
      this.lines = [];
      this.sizes = [];
      this.head = 0;
    } else if (end > 4096 && end * 2 > this.lines.length) {
      this.lines = this.lines.slice(end);
      this.sizes = this.sizes.slice(end);
      this.head = 0;
    }
    return { body, count: sizes.length, sizes, bytes };
  }

  private async run(): Promise<void> {
    let failures = 0;
    try {
      for (;;) {
        if (this.stopped) return;
        const batch = this.take();
        if (!batch) return;
        for (;;) {
          this.handle = postNdjson(this.target, batch.body);
          const out = await this.handle.done;
          this.handle = null;
          if (out.kind === 'retry') {
            if (this.stopped) {
              // Aborted by close(): the server may or may not have committed it.
              this.drop(batch, 'close_timeout', `request in flight when close() timed out (${out.reason}); the server may have stored it`);
              return;
            }
            failures++;
            await this.sleep(this.backoff(failures, out.retryAfterMs));
            if (this.stopped) {
              this.drop(batch, 'close_timeout', `server unreachable when close() timed out: ${out.reason}`);
              return;
            }
            continue;
          }
          this.settle(batch, out);
          if (out.kind === 'refused') {
            failures++;
            await this.sleep(this.o.retryMaxMs);
          } else failures = 0;
          break;
        }
      }
    } catch (err) {
      // postNdjson never rejects; this is a bug, reported as drops rather than an unhandled rejection.
      this.dropRest('internal', `event HTTP sender failed: ${(err as Error).message}`);
    } finally {
      this.running = false;
      const w = this.idleWaiter;
      this.idleWaiter = null;
      w?.();
      if (!this.stopped && this.head < this.lines.length) {
        this.running = true;
        setImmediate(() => void this.run());
      }
    }
  }

  private settle(batch: Batch, out: Exclude<PostOutcome, { kind: 'retry' }>): void {
    const acct = this.o.acct;
    if (out.kind === 'ok') {
      let rejected = out.rejectedTotal;
      let rejectedBytes = 0;
      for (const r of out.rejected) rejectedBytes += batch.sizes[r.index] ?? 0;
      // The server may list only the first rejections: the rest are counted at the mean size.
      if (out.rejectedTotal > out.rejected.length) rejectedBytes += Math.round(((out.rejectedTotal - out.rejected.length) * batch.bytes) / batch.count);
      rejected = Math.min(rejected, batch.count);
      rejectedBytes = Math.min(rejectedBytes, batch.bytes);
      acct.delivered(batch.count - rejected, batch.bytes - rejectedBytes);
      if (rejected > 0) acct.dropQueued('rejected', rejected, rejectedBytes, `server rejected ${rejected} event(s): ${out.rejected[0]?.error ?? 'invalid'}`);
    } else if (out.kind === 'unstorable') {
      acct.dropQueued('rejected', batch.count, batch.bytes, `server refused a batch of ${batch.count} event(s): ${out.reason}`);
    } else {
      acct.dropQueued('refused', batch.count, batch.bytes, `server ${this.target.base} refused the token: ${out.reason}`);
    }
    this.progress.settle(batch.count);
  }

  private drop(batch: Batch, reason: 'close_timeout', message: string): void {
    this.o.acct.dropQueued(reason, batch.count, batch.bytes, message);
    this.progress.settle(batch.count);
  }

  private dropRest(reason: 'close_timeout' | 'internal', message: string): void {
    const count = this.lines.length - this.head;
    if (count === 0) return;
    let bytes = 0;
    for (let i = this.head; i < this.sizes.length; i++) bytes += this.sizes[i] as number;
    this.lines = [];
    this.sizes = [];
    this.head = 0;
    this.o.acct.dropQueued(reason, count, bytes, message);
    this.progress.settle(count);
  }

  private backoff(failures: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, this.o.retryMinMs), 60_000);
    const d = Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(failures - 1, 30));
    return d * (0.75 + Math.random() * 0.5);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.sleeper = null;
        resolve();
      }, ms);
      timer.unref();
      this.sleeper = { timer, resolve };
    });
  }

  /** Cuts a retry wait short: `flush()` and `close()` want an attempt now, not after the backoff. */
  private wake(): void {
    const s = this.sleeper;
    if (!s) return;
    this.sleeper = null;
    clearTimeout(s.timer);
    s.resolve();
  }
}
