/**
 * The UDP side of the event client (SPEC §2: each datagram holds one JSON event or several NDJSON
 * lines; no reply). Fire-and-forget: nothing is retried, and what the OS refuses is a counted drop.
 *
 * Batching: events queued in one synchronous burst go out together on the next turn of the event
 * loop (setImmediate), packed as NDJSON into datagrams of at most `maxDatagramBytes`. Once a full
 * datagram's worth is queued it is sent at once, from `push`, so a long synchronous loop of events
 * does not pile up in memory: the send is one non-blocking syscall (Node tries `sendmsg` before
 * queueing in libuv), well under the cost of the events it carries.
 *
 * The socket is connected to the server's address (resolved once), so sends skip the per-datagram
 * lookup, and it is unref'd: an idle client never keeps the process alive. Its `error` events
 * never reach the caller (an unhandled `error` would crash it). One of them is news, though: Linux
 * reports an ICMP port-unreachable for a datagram sent on a connected socket as ECONNREFUSED, one
 * report per refused datagram. Each such report moves the events of the oldest datagram sent in
 * the last {@link REFUSAL_WINDOW_MS} from `sent` to dropped (`unreachable`): "nothing listens" is
 * a loss the caller's stats must show, even though UDP has no acknowledgements.
 *
 * Ownership: events belong to this sender from `push` until they are counted as sent or dropped
 * in the shared {@link EventAccounting}; datagram buffers are owned by the socket until its
 * send callback.
 */

import type { Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns';
import type { EventAccounting } from './event-stats.js';
import { SettleTracker } from './settle-tracker.js';

export interface UdpSenderOptions {
  host: string;
  port: number;
  maxDatagramBytes: number;
  acct: EventAccounting;
}

/** After a failed lookup or connect, events are dropped at once for this long before trying again. */
const RETRY_CONNECT_MS = 1000;
/** A datagram not refused within this long is taken as received (an ICMP answer takes a round trip). */
const REFUSAL_WINDOW_MS = 1000;
/** Datagrams remembered for refusal reports; past this (a very high rate), the oldest count as received. */
const MAX_RECENT_DATAGRAMS = 8192;

export class UdpSender {
  private readonly o: UdpSenderOptions;
  private readonly progress = new SettleTracker();
  private lines: string[] = [];
  private sizes: number[] = [];
  private head = 0;
  /** Bytes of the queued, unsent lines (without separators). */
  private unsentBytes = 0;
  private socket: Socket | null = null;
  private state: 'idle' | 'connecting' | 'ready' | 'failed' | 'closed' = 'idle';
  private failedUntil = 0;
  private lastError = '';
  private scheduled = false;
  /** Datagrams sent recently, oldest first: [sent at, events in it]; see REFUSAL_WINDOW_MS. */
  private recent: [number, number][] = [];
  private recentHead = 0;

  constructor(o: UdpSenderOptions) {
    this.o = o;
  }

  get address(): string {
    return this.o.host.includes(':') ? `[${this.o.host}]:${this.o.port}` : `${this.o.host}:${this.o.port}`;
  }

  /** Takes one event (`json` is one line, `bytes` ≤ maxDatagramBytes). */
  push(json: string, bytes: number): void {
    const acct = this.o.acct;
    if (this.state === 'failed') {
      if (Date.now() < this.failedUntil) {
        acct.dropUntaken('send_error', `UDP ${this.address}: ${this.lastError}`);
        return;
      }
      this.state = 'idle';
    }
    acct.enqueue(bytes);
    this.progress.pushed++;
    this.lines.push(json);
    this.sizes.push(bytes);
    this.unsentBytes += bytes;
    if (this.state === 'idle') this.connect();
    else if (this.state === 'ready' && this.unsentBytes >= this.o.maxDatagramBytes) this.send(true);
    if (!this.scheduled && this.head < this.lines.length) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        if (this.state === 'ready') this.send(false);
      });
    }
  }

  /** Sends what is queued now; true once it all left (or was dropped) before `deadline`. */
  flush(deadline: number): Promise<boolean> {
    if (this.state === 'ready') this.send(false);
    return this.progress.waitForPushed(deadline);
  }

  /** Flushes until `deadline`, drops what is still queued, closes the socket. */
  async close(deadline: number): Promise<void> {
    if (this.state === 'closed') return;
    await this.flush(deadline);
    this.dropUnsent('close_timeout', `still queued when close() timed out`);
    // A refusal of the last datagrams is a round trip away: give it a moment to be counted.
    const last = this.recent[this.recent.length - 1];
    if (last && Date.now() - last[0] < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(50, deadline - Date.now())));
    this.state = 'closed';
    const s = this.socket;
    this.socket = null;
    // Sends still in libuv's queue complete (or fail) before the close callback runs.
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private connect(): void {
    this.state = 'connecting';
    lookup(this.o.host, (err, address, family) => {
      if (this.state !== 'connecting') return; // closed meanwhile
      if (err) {
        this.fail(`cannot resolve ${this.o.host}: ${err.code ?? err.message}`);
        return;
      }
      let s: Socket;
      try {
        s = createSocket(family === 6 ? 'udp6' : 'udp4');
      } catch (e) {
        this.fail(`cannot create a UDP socket: ${(e as Error).message}`);
        return;
      }
      s.on('error', (e: NodeJS.ErrnoException) => {
        this.lastError = e.code ?? e.message;
        if (e.code === 'ECONNREFUSED') this.refused();
      });
      s.connect(this.o.port, address, (cerr?: Error) => {
        if (this.state !== 'connecting') {
          s.close();
          return;
        }
        if (cerr) {
          s.close();
          this.fail(`cannot connect: ${cerr.message}`);
          return;
        }
        s.unref();
        this.socket = s;
        this.state = 'ready';
        this.send(false);
      });
    });
  }

  private fail(why: string): void {
    this.lastError = why;
    this.state = 'failed';
    this.failedUntil = Date.now() + RETRY_CONNECT_MS;
    this.dropUnsent('send_error', `UDP ${this.address}: ${why}`);
  }

  private dropUnsent(reason: 'send_error' | 'close_timeout', message: string): void {
    const count = this.lines.length - this.head;
    if (count === 0) return;
    const bytes = this.unsentBytes;
    this.lines = [];
    this.sizes = [];
    this.head = 0;
    this.unsentBytes = 0;
    this.o.acct.dropQueued(reason, count, bytes, message);
    this.progress.settle(count);
  }

  /** Sends queued lines as packed datagrams; with `onlyFull`, leaves a last partial datagram queued. */
  private send(onlyFull: boolean): void {
    const s = this.socket;
    if (!s) return;
    const max = this.o.maxDatagramBytes;
    while (this.head < this.lines.length) {
      const start = this.head;
      let end = start;
      let size = 0;
      let bytes = 0;
      while (end < this.lines.length) {
        const b = this.sizes[end] as number;
        const next = size + b + (end > start ? 1 : 0);
        if (end > start && next > max) break;
        size = next;
        bytes += b;
        end++;
      }
      if (onlyFull && end === this.lines.length && size < max) break;
      const body = end - start === 1 ? (this.lines[start] as string) : this.lines.slice(start, end).join('\n');
      this.head = end;
      this.unsentBytes -= bytes;
      this.sendDatagram(s, Buffer.from(body, 'utf8'), end - start, bytes);
    }
    if (this.head === this.lines.length) {
      this.lines = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.lines.length) {
      // Compact now and then instead of shift()ing every line.
      this.lines = this.lines.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** An ICMP port-unreachable came back: the oldest recent datagram's events were not received. */
  private refused(): void {
    const now = Date.now();
    while (this.recentHead < this.recent.length) {
      const [at, count] = this.recent[this.recentHead++] as [number, number];
      if (now - at > REFUSAL_WINDOW_MS) continue;
      this.o.acct.undeliver('unreachable', count, `UDP ${this.address}: port unreachable (nothing listens there)`);
      break;
    }
    if (this.recentHead === this.recent.length) {
      this.recent = [];
      this.recentHead = 0;
    }
  }

  private remember(count: number): void {
    if (this.recent.length - this.recentHead >= MAX_RECENT_DATAGRAMS) this.recentHead++;
    if (this.recentHead > 4096 && this.recentHead * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentHead);
      this.recentHead = 0;
    }
    this.recent.push([Date.now(), count]);
  }

  private sendDatagram(s: Socket, datagram: Buffer, count: number, bytes: number): void {
    const done = (err: Error | null) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code ?? err.message;
        this.o.acct.dropQueued('send_error', count, bytes, `UDP send to ${this.address} failed: ${code}`);
        // The send reported a refusal of an earlier datagram (the socket's pending error).
        if (code === 'ECONNREFUSED') this.refused();
      } else {
        this.o.acct.delivered(count, bytes);
        this.remember(count);
      }
      this.progress.settle(count);
    };
    try {
      s.send(datagram, done);
    } catch (err) {
      // The socket was closed under us (ERR_SOCKET_DGRAM_NOT_RUNNING): never throw into event().
      done(err as Error);
    }
  }
}
