/**
 * The HTTP sender: events in, `POST /v1/events` out, nothing lost on the way.
 *
 * Batching is adaptive: when no request is in flight, whatever is queued goes out at once (a
 * quiet command's line reaches the server in a millisecond or two); lines that arrive while a
 * request is in flight wait and go out together in the next one, up to `maxBatchBytes`. So the
 * batch size follows the output rate with no timer. Lines pushed in one synchronous burst (one
 * chunk of a child's output) share a request, because the send loop resumes on a microtask.
 *
 * Delivery is in order over one keep-alive connection, one request at a time. Every event is
 * stamped with this sender's `producer` and a `seq` counting from 0; the server stores a
 * `(producer, seq)` at most once and skips any seq at or below the highest it committed for the
 * producer — which is why a later event is never sent before an earlier one is committed.
 *
 * Retries: network errors, timeouts, 408, 429 and 5xx (503 when the server's queue is full) are
 * retried with exponential backoff (`retryMinMs` doubling up to `retryMaxMs`, ±25 % jitter), or
 * after `Retry-After` when the server gives one. 401/403 stop sending (a token problem); 400,
 * 413 and 415 drop the batch with a notice (the server will never store it).
 *
 * Memory is bounded: events wait in memory up to `maxBufferBytes`. From the first failed attempt,
 * or when that buffer is full, the sender switches to its spool file (see spool.ts): the batch in
 * flight, the buffer and every later event are written there in order, and batches are read back
 * from it until it is delivered, after which the file is deleted and events queue in memory again.
 * Invariant: while a spool is active, memory holds no queued events, so spool order is send order.
 */

import http from 'node:http';
import { hostname } from 'node:os';
import type { EventInput } from '@logsrv/protocol';
import type { PostHandle, PostTarget } from './post-events.js';
import { httpsModule, postNdjson } from './post-events.js';
import { randomHex } from './random-hex.js';
import { defaultSpoolDir, Spool } from './spool.js';

/** An event as given to the sender: `producer` and `seq` are its to set. */
/** Network errors that mean no server is there at all (as opposed to a slow or busy one). */
const NOT_LISTENING = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export type OutgoingEvent = Omit<EventInput, 'producer' | 'seq'>;

export type SenderNoticeKind =
  /** Sending failed; events are kept in the spool and retried. */
  | 'unreachable'
  /** Sending works again after a failure. */
  | 'reconnected'
  /** The in-memory buffer is full; later events go through the spool file. */
  | 'buffer-full'
  /** The server refused the token (401/403); nothing more is sent. */
  | 'refused'
  /** The server rejected events as invalid; they are not stored. */
  | 'rejected'
  /** The spool file cannot be written: events beyond the memory bound are being lost. */
  | 'spool-error';

export interface SenderNotice {
  kind: SenderNoticeKind;
  /** A sentence for the user. */
  message: string;
}

export interface HttpSenderOptions {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  server: string;
  token?: string | undefined;
  /** Producer id stamped on every event; default `<host>-<pid>-<random>`. */
  producer?: string | undefined;
  /** Where the spool file goes; default `<os tmpdir>/logsrv-spool`. */
  spoolDir?: string | undefined;
  /** Recorded in the spool's metadata, for `logsrv flush` messages. */
  session?: string | undefined;
  /** Largest request body (a single larger event still goes alone). Default 1 MiB. */
  maxBatchBytes?: number;
  /** Events kept in memory before the spool file is used. Default 4 MiB. */
  maxBufferBytes?: number;
  /** A request without a response for this long is retried. Default 30 s. */
  requestTimeoutMs?: number;
  /** First retry delay; doubles per failure. Default 100 ms. */
  retryMinMs?: number;
  /** Longest retry delay (not counting a server's Retry-After). Default 5 s. */
  retryMaxMs?: number;
  onNotice?: (notice: SenderNotice) => void;
  /**
   * Called after each batch the server answered: `queuedBytes` went down. It runs just before the
   * sender takes its next batch, whose request Node writes on a later tick: synchronous work here
   * holds that request back (make more events on a later turn, as OutputCapture does).
   */
  onAck?: () => void;
  /** Replays this leftover spool (see {@link deliverLeftovers}) instead of sending new events. */
  adopt?: Spool | undefined;
}

export interface CloseReport {
  /** Everything was committed or answered (nothing left in memory or in a spool). */
  delivered: boolean;
  /** Events given to `send`. */
  sent: number;
  /** Events the server acknowledged (stored now or already stored). */
  committed: number;
  /** Of those, events the server already had (a resent batch). */
  duplicates: number;
  /** Events the server refused as invalid: never stored. */
  rejected: number;
  /** Events lost because the spool could not be written. */
  lost: number;
  /** Bytes of NDJSON left in the spool file for a later delivery. */
  spooledBytes: number;
  /** The spool file holding what is left, when something is. */
  spoolFile?: string;
  /** Why the server refused us, when it did (401/403). */
  refused?: string;
  /** The last attempt failed (network error, 5xx): the server was unreachable when we gave up, not merely slow. */
  offline: boolean;
}

interface Batch {
  /** The NDJSON lines, in one buffer or several (sent one after the other). */
  body: Buffer | Buffer[];
  count: number;
  /** Offset to acknowledge in the spool once committed; -1 for a batch only in memory. */
  spoolEnd: number;
}

const KiB = 1024;
const NL = 0x0a;
const EMPTY = Buffer.alloc(0);

/** NDJSON lines in `b` (JSON text never holds a raw newline, so every `\n` ends one). */
function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(NL); i !== -1; i = b.indexOf(NL, i + 1)) n++;
  return n;
}

/** `http://h:p/` → `http://h:p`: the form spools record and compare. */
export function normalizeServer(server: string): string {
  const u = new URL(server);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`server URL must be http:// or https://, got ${server}`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function defaultProducer(): string {
  return `${hostname().slice(0, 64)}-${process.pid}-${randomHex(6)}`;
}

export class HttpSender {
  readonly producer: string;
  private readonly producerJson: string;
  private readonly base: string;
  private readonly target: PostTarget;
  private readonly maxBatchBytes: number;
  private readonly maxBufferBytes: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly spoolDir: string;
  private readonly session: string | undefined;
  private readonly onNotice: (n: SenderNotice) => void;
  private readonly onAck: () => void;

  private seq = 0;
  /**
   * Events waiting in memory: blocks of whole NDJSON lines (each ending in `\n`, `producer` and
   * `seq` stamped), oldest first, with the number of lines in each. A block is one event from
   * {@link send} or many from {@link sendStamped}.
   */
  private mem: Buffer[] = [];
  private memCounts: number[] = [];
  private memHead = 0;
  private memBytes = 0;
  /** Events in `mem` (the sum of `memCounts` from `memHead`). */
  private memEvents = 0;
  /** {@link heldFromSeq} while a spool is active: what was held when it began. */
  private spoolHeldFrom = 0;
  private spool: Spool | null;
  private spoolBroken = false;
  private inflight: Batch | null = null;
  private handle: PostHandle | null = null;

  private stopped = false;
  private closing = false;
  private giveUp = false;
  /** Attempts made during close() that found nothing listening: one is enough to give up... */
  private absentWhileClosing = 0;
  /** ...unless the server answered this sender before (any HTTP answer). */
  private answered = false;
  private offline = false;
  private refused: string | undefined;
  private wakeUp: (() => void) | null = null;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  private waiters: (() => void)[] = [];
  private readonly pumping: Promise<void>;

  private sent = 0;
  private committed = 0;
  private duplicates = 0;
  private rejected = 0;
  private lost = 0;
  private acks = 0;

  constructor(opts: HttpSenderOptions) {
    this.base = normalizeServer(opts.server);
    this.producer = opts.producer ?? defaultProducer();
    this.producerJson = JSON.stringify(this.producer);
    // 1 MiB: ~5,000 events of a line each, so a fast command's output costs the server a request
    // per ~5,000 lines (it commits them in its own batches), while a quiet command's line still
    // goes out alone at once (batches only take what is queued).
    this.maxBatchBytes = opts.maxBatchBytes ?? 1024 * KiB;
    this.maxBufferBytes = opts.maxBufferBytes ?? 4096 * KiB;
    this.retryMinMs = opts.retryMinMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 5000;
    this.spoolDir = opts.spoolDir ?? defaultSpoolDir();
    this.session = opts.session;
    this.onNotice = opts.onNotice ?? (() => {});
    this.onAck = opts.onAck ?? (() => {});
    this.spool = opts.adopt ?? null;
    // One connection: requests are sequential anyway, and one socket keeps order obvious.
    const agentOpts = { keepAlive: true, maxSockets: 1 };
    const agent = this.base.startsWith('https:') ? new (httpsModule().Agent)(agentOpts) : new http.Agent(agentOpts);
    this.target = { base: this.base, token: opts.token, agent, timeoutMs: opts.requestTimeoutMs ?? 30_000 };
    this.pumping = this.pump();
  }

  /**
   * Bytes of events not yet acknowledged, in memory and in the spool: what a producer that can
   * wait (logsrv run's backlog) compares with a bound before making more events.
   */
  get queuedBytes(): number {
    return this.memBytes + (this.spool ? this.spool.backlogBytes : 0);
  }

  /** Batches the server has answered so far: a producer watching for progress compares it. */
  get acknowledged(): number {
    return this.acks;
  }

  /**
   * The first seq whose bytes this sender may still read from a buffer given to
   * {@link sendStamped}: events before it were acknowledged or copied out (to the spool file), so a
   * buffer holding only earlier events is the caller's again (logsrv run reuses its slabs). While
   * a spool is active (it keeps appends for a turn, and a batch moved into it may still be in
   * flight), this stays at what was held when the spool began.
   */
  get heldFromSeq(): number {
    if (this.spool) return this.spoolHeldFrom;
    return this.seq - this.memEvents - (this.inflight ? this.inflight.count : 0);
  }

  /** The last attempt to deliver failed; retries continue (see notices). */
  get unreachable(): boolean {
    return this.offline || this.refused !== undefined;
  }

  /** The server URL this sender delivers to, normalized. */
  get server(): string {
    return this.base;
  }

  /** Queues one event. Never blocks and never throws for delivery problems (see notices). */
  send(event: OutgoingEvent): void {
    this.sendEncoded(JSON.stringify(event));
  }

  /**
   * Queues one event already serialized as a JSON object (what `JSON.stringify(event)` gives, no
   * `producer`/`seq`): hot loops build it from a precomputed prefix instead of an object.
   */
  sendEncoded(json: string): void {
    if (this.stopped || this.closing) throw new Error('HttpSender: send() after close()');
    this.sent++;
    this.enqueue(Buffer.from(`${json.slice(0, -1)}${json.length > 2 ? ',' : ''}"producer":${this.producerJson},"seq":${this.seq++}}\n`), 1);
  }

  /** This sender's producer id as a JSON string, for {@link sendStamped}. */
  get producerJsonText(): string {
    return this.producerJson;
  }

  /** The seq the next event gets, for {@link sendStamped}. */
  get nextSeq(): number {
    return this.seq;
  }

  /**
   * Queues `count` events already encoded as NDJSON lines (each ending in `\n`) and stamped with
   * `"producer":` {@link producerJsonText} and the seqs {@link nextSeq} … nextSeq + count − 1, in
   * that order: the hot path of `logsrv run`, which writes a read's lines straight into one buffer.
   * The sender owns `ndjson` from now on (the caller must not reuse it).
   */
  sendStamped(ndjson: Buffer, count: number): void {
    if (this.stopped || this.closing) throw new Error('HttpSender: send() after close()');
    if (count === 0) return;
    this.sent += count;
    this.seq += count;
    this.enqueue(ndjson, count);
  }

  /**
   * Delivers what is queued, then stops. Waits as long as deliveries make progress; gives up
   * after `timeoutMs` without any, leaving the rest in the spool file (reported).
   */
  async close(timeoutMs = 5000): Promise<CloseReport> {
    this.closing = true;
    this.kick();
    if (timeoutMs > 0) this.shortenSleep();
    let acks = this.acks;
    let deadline = Date.now() + timeoutMs;
    while (!this.refused && !this.giveUp && !this.idle()) {
      // Nothing listens at the address (connection refused, no such host) and nothing ever
      // answered there: waiting out the timeout cannot help a program that is exiting; the spool
      // keeps the rest for later. A server that answered before may be restarting: wait for it.
      if (this.absentWhileClosing > 0 && !this.answered) break;
      if (this.acks !== acks) {
        acks = this.acks;
        deadline = Date.now() + timeoutMs;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.stop();
  }

  /** Makes a running {@link close} give up now (what is left stays in the spool). */
  interrupt(): void {
    this.giveUp = true;
    this.signal();
  }

  private enqueue(block: Buffer, count: number): void {
    const bytes = block.length;
    if (this.spool) this.spool.append(block);
    else if (this.memBytes > 0 && this.memBytes + bytes > this.maxBufferBytes && this.enterSpool('buffer-full', count)) {
      (this.spool as Spool | null)?.append(block);
    } else if (this.spoolBroken && this.memBytes > 4 * this.maxBufferBytes) {
      this.lost += count;
    } else {
      this.mem.push(block);
      this.memCounts.push(count);
      this.memBytes += bytes;
      this.memEvents += count;
    }
    this.kick();
  }

  private kick(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  private signal(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private idle(): boolean {
    return this.inflight === null && this.memHead >= this.mem.length && (this.spool === null || (this.spool.drained && !this.spool.unread));
  }

  /**
   * Moves the batch in flight and the memory buffer into a new spool file, so that from now on
   * the file holds every undelivered event in order. False when the file cannot be made.
   */
  private enterSpool(why: 'buffer-full' | 'unreachable' | 'exit' | 'refused', enqueuing = 0): boolean {
    if (this.spool) return true;
    if (this.spoolBroken) return false;
    // `enqueuing`: the events of the block being queued (seq already counts them) go in too.
    const heldFrom = this.heldFromSeq - enqueuing;
    const name = `${Date.now()}-${this.producer.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    let spool: Spool;
    try {
      spool = Spool.create(this.spoolDir, name, { server: this.base, session: this.session, producer: this.producer, created: new Date().toISOString() });
    } catch (err) {
      this.spoolBroken = true;
      this.onNotice({
        kind: 'spool-error',
        message: `cannot write the spool in ${this.spoolDir} (${(err as Error).message}); undelivered output is held in memory only (--spool DIR)`,
      });
      return false;
    }
    if (this.inflight) {
      // No spool before: the batch came from memory.
      const parts = Array.isArray(this.inflight.body) ? this.inflight.body : [this.inflight.body];
      let bytes = 0;
      for (const b of parts) {
        spool.append(b);
        bytes += b.length;
      }
      this.inflight.spoolEnd = bytes;
      spool.skipTo(this.inflight.spoolEnd);
    }
    for (let i = this.memHead; i < this.mem.length; i++) spool.append(this.mem[i] as Buffer);
    this.mem = [];
    this.memCounts = [];
    this.memHead = 0;
    this.memBytes = 0;
    this.memEvents = 0;
    this.spoolHeldFrom = heldFrom;
    this.spool = spool;
    if (why === 'buffer-full') {
      this.onNotice({ kind: 'buffer-full', message: `output is faster than the server takes it; buffering through ${spool.file}` });
    }
    return true;
  }

  /**
   * The oldest queued lines, up to `maxBatchBytes` (at least one line): whole blocks while they
   * fit, else the first block's leading lines (the rest of it stays queued as a view of it).
   */
  private takeFromMem(): Batch | null {
    const start = this.memHead;
    if (start >= this.mem.length) return null;
    let end = start;
    let bytes = 0;
    let count = 0;
    while (end < this.mem.length) {
      const b = (this.mem[end] as Buffer).length;
      if (bytes + b > this.maxBatchBytes) break;
      bytes += b;
      count += this.memCounts[end] as number;
      end++;
    }
    let body: Buffer | Buffer[];
    if (end === start) {
      // The first block alone is over the cap: cut it after its last line that fits (or its first line).
      const block = this.mem[start] as Buffer;
      let cut = block.lastIndexOf(NL, this.maxBatchBytes - 1) + 1;
      if (cut === 0) cut = block.indexOf(NL) + 1;
      const first = block.subarray(0, cut);
      body = first;
      count = countLines(first);
      if (cut < block.length) {
        this.mem[start] = block.subarray(cut);
        this.memCounts[start] = (this.memCounts[start] as number) - count;
      } else end = start + 1;
      bytes = cut;
    } else body = end - start === 1 ? (this.mem[start] as Buffer) : this.mem.slice(start, end); // sent as they are: no copy
    this.memBytes -= bytes;
    this.memEvents -= count;
    if (end === this.mem.length) {
      this.mem = [];
      this.memCounts = [];
      this.memHead = 0;
    } else {
      for (let i = start; i < end; i++) this.mem[i] = EMPTY;
      this.memHead = end;
      // Compact now and then instead of shift()ing every block.
      if (end > 4096 && end * 2 > this.mem.length) {
        this.mem = this.mem.slice(end);
        this.memCounts = this.memCounts.slice(end);
        this.memHead = 0;
      }
    }
    return { body, count, spoolEnd: -1 };
  }

  private nextBatch(): Batch | null {
    if (this.spool) {
      const b = this.spool.read(this.maxBatchBytes);
      if (b) return { body: b.body, count: b.count, spoolEnd: b.end };
      if (this.spool.drained) {
        // Everything in the file is committed: back to memory.
        this.spool.remove();
        this.spool = null;
      }
    }
    return this.takeFromMem();
  }

  private backoff(failures: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, this.retryMinMs), 60_000);
    let d = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(failures - 1, 30));
    // While closing, the server is given more chances within the close timeout.
    if (this.closing) d = Math.min(d, 1000);
    return d * (0.75 + Math.random() * 0.5);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.sleeper = null;
        resolve();
      }, ms);
      this.sleeper = { timer, resolve };
    });
  }

  private shortenSleep(): void {
    const s = this.sleeper;
    if (!s) return;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      this.sleeper = null;
      s.resolve();
    }, 200);
  }

  private async pump(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const batch = this.inflight ?? this.nextBatch();
      if (!batch) {
        this.signal();
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        });
        continue;
      }
      this.inflight = batch;
      this.handle = postNdjson(this.target, batch.body);
      const out = await this.handle.done;
      this.handle = null;
      if (out.kind !== 'retry' || !NOT_LISTENING.has(out.reason.split(' ')[0] as string)) this.answered = true;
      if (this.stopped) return;
      if (out.kind === 'ok' || out.kind === 'unstorable') {
        this.acks++;
        if (out.kind === 'ok') {
          this.committed += batch.count - out.rejectedTotal;
          this.duplicates += out.duplicates;
          if (out.rejectedTotal > 0) {
            this.rejected += out.rejectedTotal;
            this.onNotice({ kind: 'rejected', message: `server rejected ${out.rejectedTotal} event(s): ${out.rejected[0]?.error ?? 'invalid'}` });
          }
        } else {
          this.rejected += batch.count;
          this.onNotice({ kind: 'rejected', message: `server refused a batch of ${batch.count} event(s): ${out.reason}` });
        }
        if (batch.spoolEnd >= 0) this.spool?.ack(batch.spoolEnd);
        this.inflight = null;
        failures = 0;
        if (this.offline) {
          this.offline = false;
          this.onNotice({ kind: 'reconnected', message: `server ${this.base} reachable again; delivering the spool` });
        }
        this.onAck();
      } else if (out.kind === 'refused') {
        this.refused = out.reason;
        this.enterSpool('refused');
        this.onNotice({ kind: 'refused', message: `server ${this.base} refused the token: ${out.reason} (--token or LOGSRV_TOKEN)` });
        this.signal();
        return;
      } else {
        failures++;
        if (this.closing && NOT_LISTENING.has(out.reason)) this.absentWhileClosing++;
        if (!this.offline) {
          this.offline = true;
          const spooled = this.enterSpool('unreachable');
          const where = spooled && this.spool ? `keeping output in ${this.spool.file}` : 'keeping output in memory';
          this.onNotice({ kind: 'unreachable', message: `cannot deliver to ${this.base} (${out.reason}); ${where} and retrying` });
        }
        this.signal();
        await this.sleep(this.backoff(failures, out.retryAfterMs));
      }
      this.signal();
    }
  }

  private async stop(): Promise<CloseReport> {
    this.stopped = true;
    const wasIdle = this.idle();
    this.handle?.abort();
    this.kick();
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
      this.sleeper = null;
    }
    await this.pumping;
    if (!wasIdle && !this.spool) this.enterSpool('exit');
    const report: CloseReport = {
      delivered: wasIdle,
      sent: this.sent,
      committed: this.committed,
      duplicates: this.duplicates,
      rejected: this.rejected,
      lost: this.lost,
      spooledBytes: 0,
      offline: this.offline,
    };
    if (!wasIdle && !this.spool) report.lost += this.sent - this.committed - this.rejected - this.lost;
    if (this.spool) {
      if (wasIdle) this.spool.remove();
      else {
        report.spooledBytes = this.spool.backlogBytes;
        report.spoolFile = this.spool.file;
        this.spool.release();
      }
      this.spool = null;
    }
    if (this.refused) report.refused = this.refused;
    this.target.agent.destroy();
    return report;
  }
}
