/**
 * The live hub (SPEC §6): subscribed to the commit feed (in-process, or from Redis in a reader
 * process), it fans committed events out to SSE tails.
 *
 * - One subscription per distinct filter, shared by all its viewers: an event is matched and
 *   serialized once per subscription, never per client, and its frames reach each socket as one
 *   write per flush.
 * - The watermark is the newest id handed to subscribers. Everything up to it is committed (a
 *   reader sees it); everything after it reaches every current subscriber through the hub. A
 *   tail reads history up to the watermark it attached at and takes the rest live: no gap, no
 *   duplicate (see tail-route.ts).
 * - Ingest never waits for a client: the feed listener only queues; flushes write without waiting, and
 *   a client whose unsent bytes pass its limit is told `lagged` and dropped.
 */
import type { ServerResponse } from 'node:http';
import type { EventId, NormalizedEvent } from '@logsrv/protocol';
import { isSessionEnd, LogsrvError } from '@logsrv/protocol';
import type { Registry } from 'prom-client';
import type { IdentifiedBatch } from '../batch/index.js';
import type { CommitFeed, CommitNotice } from '../queue/commit-feed.js';
import { committedEventJson } from '../store/rows.js';
import type { TailFilter } from './filter.js';
import { compileFilter, filterKey } from './filter.js';
import { eventFrame } from './sse.js';
import type { Chunk, ClientOwner } from './tail-client.js';
import { TailClient } from './tail-client.js';
import type { TailMetrics } from './tail-metrics.js';
import { createTailMetrics } from './tail-metrics.js';

export interface TailHubOptions {
  /** Open tails allowed in total (--max-tail-clients). */
  maxClients: number;
  /** Unsent bytes one client may have before it is `lagged` (--tail-client-buffer-bytes). */
  clientBufferBytes: number;
  /** Interval of the keep-alive comment (--tail-heartbeat-ms). */
  heartbeatMs: number;
  /** The newest id in the store at start: the first watermark. */
  lastId: EventId | null;
  /** Where committed events come from, in commit order. */
  feed: CommitFeed;
  registry?: Registry;
}

/**
 * Flush pacing. A flush costs roughly one socket write per client; with thousands of clients
 * and a commit per request, flushing every commit would spend the thread on writes. After a
 * flush that kept the thread busy C ms the next one waits C × (1 − s) / s ms, coalescing the
 * commits in between into one write per client, so that fan-out takes at most a share s of the
 * thread; a hub with few clients (C ≈ µs) still flushes on the next turn of the event loop.
 *
 * The share follows the thread's other work, measured over the last flush cycle (event-loop
 * utilization minus the flush's own time): FANOUT_SHARE_MAX of the thread when it has nothing else
 * to do, falling in proportion to FANOUT_SHARE_MIN (a gap of 2C) once other work (ingest above all:
 * ~40 % of this thread under bulk ingest) takes FANOUT_OTHER_FULL of it.
 * The wait is not capped: a cap lets a slow flush (a starved CPU makes each write dear) take the
 * whole thread, and then ingest itself — what every tail is waiting for — stalls.
 */
const FANOUT_SHARE_MAX = 0.85;
const FANOUT_SHARE_MIN = 1 / 3;
const FANOUT_OTHER_FULL = 0.3;
/**
 * A write to a socket costs ~10–15 µs of this thread on the reference machine whatever its size
 * (mostly the kernel's: one TCP segment, one wake-up of the reader), so what bounds fan-out is
 * writes per second, not bytes. A hub's flushes start at most once per clients / this many
 * seconds: 10,000 clients are written at most every 100 ms (each socket gets everything since in
 * one write), 500 clients every 5 ms, and a hub of a few clients is not held back at all. At
 * ~12 µs a write that is more than the thread has, so for a large hub the share above decides;
 * this bound only coalesces where writes are cheap. At 50,000 it held 10,000 clients to one
 * flush per 200 ms on an otherwise idle thread: `bench tail-fanout`, interleaved twice, delivery
 * p50 407 / 432 ms at 50,000 against 365 / 284 ms at 100,000 (p99 1,022 / 1,204 against
 * 1,107 / 868 ms, ingest beside the tails 0.63 / 0.56× against 0.66 / 0.58×).
 */
const FANOUT_WRITES_PER_SECOND = 100_000;
/**
 * A flush to more clients than this is written in slices of this many sockets (~6 ms at ~12 µs a
 * write), a turn of the event loop apart, so ingest (and the commits every tail waits for) goes on
 * between slices instead of waiting ~150 ms for 10,000 writes. The pacing above counts the slices'
 * time. Slices of 2048 made a request that came during a flush wait ~25 ms: with fan-out taking
 * up to 85 % of an otherwise idle thread, `bench tail-fanout`'s ticker round trip p50 was 25–56 ms
 * instead of 10–12 ms with 512.
 */
const FANOUT_SLICE_CLIENTS = 512;
/**
 * A hub with at most INLINE_FLUSH_CLIENTS clients whose last flush took less than INLINE_FLUSH_MS
 * flushes a commit inside the feed listener, at once: the frames reach the sockets before the
 * ingest response is even built, instead of a turn of the event loop later (~1 ms on a busy
 * thread, the largest server-side wait of a line at low rates). Bigger hubs keep the paced,
 * coalescing flush on a later turn: the client count bounds what an inline flush can cost (the
 * last flush's cost alone does not — it may have touched no subscription), and a costly flush
 * inside the listener would keep the writer from sending its next batch meanwhile.
 *
 * A small hub whose last flush was costly (big batches: ~50-150 lines a commit at 10k lines/s)
 * flushes on the same turn, right after the ingest responses (setImmediate), never on a paced
 * timer: with a few clients a flush is the batch's frames (made once, needed anyway) and a few
 * writes, so pacing saves nothing, and its timer (2× the last flush's cost, late under load) held
 * live-e2e's frames at 10k lines/s 0.66 ms p50, 23 ms p90, 64 ms p99 between the commit notice
 * and the socket write (hop probe, load average 10).
 */
const INLINE_FLUSH_MS = 0.5;
const INLINE_FLUSH_CLIENTS = 64;

interface Commit {
  batch: IdentifiedBatch;
  at: number;
}

/**
 * A flush being written slice by slice: each chunk goes to the clients its subscription had
 * when the flush ran (a client attached since reads those events from the store: the watermark
 * had moved past them). No other flush starts before it ends, so a socket gets its chunks in order.
 */
interface Pass {
  chunks: { chunk: Chunk; clients: TailClient[] }[];
  upTo: EventId;
  commits: Commit[];
  /** Position: chunks[c].clients[i] is next. */
  c: number;
  i: number;
  /** Thread time spent on this flush so far (ms). */
  busy: number;
}

class Subscription {
  readonly clients = new Set<TailClient>();
  frames: string[] = [];
  ids: EventId[] = [];
  lastId: string | null = null;
  /** Set once the session ended: the subscription takes nothing more and is retired at flush. */
  end: string | null = null;
  touched = false;
  /** The filter, compiled once (its `q` parsed) for every event it is checked against. */
  readonly matches: (e: NormalizedEvent) => boolean;
  constructor(
    readonly key: string,
    readonly filter: TailFilter,
  ) {
    this.matches = compileFilter(filter);
  }
}

export class TailHub implements ClientOwner {
  private committed: EventId | null;
  private watermark: EventId | null;
  private pending: Commit[] = [];
  private readonly subs = new Map<string, Subscription>();
  /** Subscriptions with a session filter, by session: an event only visits its session's. */
  private readonly bySession = new Map<string, Set<Subscription>>();
  /** Subscriptions without a session filter: every event visits them. */
  private readonly global = new Set<Subscription>();
  private readonly clients = new Set<TailClient>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushImmediate: NodeJS.Immediate | null = null;
  private lastFlushStart = 0;
  private lastFlushEnd = 0;
  private lastFlushCost = 0;
  /** Fan-out's share of this thread as of the last flush (see FANOUT_SHARE_MAX). */
  private share = FANOUT_SHARE_MIN;
  /** The thread's event-loop utilization when the last flush ended. */
  private lastElu = performance.eventLoopUtilization();
  /** The flush being written in slices, if any. */
  private pass: Pass | null = null;
  private passImmediate: NodeJS.Immediate | null = null;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private closed = false;
  private readonly metrics: TailMetrics;
  private readonly unsubscribeFeed: () => void;

  constructor(private readonly opts: TailHubOptions) {
    this.committed = opts.lastId;
    this.watermark = opts.lastId;
    this.metrics = createTailMetrics(
      opts.registry,
      () => this.clients.size,
      () => this.subs.size,
    );
    this.heartbeatTimer = setInterval(() => {
      for (const c of this.clients) c.heartbeat();
    }, opts.heartbeatMs);
    this.heartbeatTimer.unref();
    this.unsubscribeFeed = opts.feed.subscribe(this.onCommit);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The share of this thread fan-out may take, as set by the last flush (for diagnostics and tests). */
  get fanoutShare(): number {
    return this.share;
  }

  /** The newest id committed as far as this thread has been told. */
  get lastCommitted(): EventId | null {
    return this.committed;
  }

  /** The feed's listener: runs on this thread in commit order, returns at once. */
  private readonly onCommit = (n: CommitNotice): void => {
    const batch = n.stored;
    const count = batch.ms.length; // not events: a packed batch's objects are made only for tails
    if (count === 0 || this.closed) return;
    const last = { ms: batch.ms[count - 1] as number, seq: batch.seq[count - 1] as number };
    this.committed = last;
    if (this.subs.size === 0 && this.pending.length === 0) {
      this.watermark = last; // nobody is following: nothing to hand over
      return;
    }
    const at = performance.now();
    this.pending.push({ batch, at });
    const small = this.small;
    if (
      this.flushTimer === null &&
      this.flushImmediate === null &&
      small &&
      this.pass === null &&
      this.lastFlushCost < INLINE_FLUSH_MS &&
      at >= this.nextFlushAt()
    ) {
      this.flush();
    } else this.schedule(small);
  };

  /** Throws the 503 a new tail gets when it cannot be admitted. */
  admit(): void {
    if (this.closed) throw new LogsrvError('LOGSRV_ERR_SHUTTING_DOWN', 'server is shutting down; reconnect with the last id once it is back');
    if (this.clients.size >= this.opts.maxClients) {
      throw new LogsrvError(
        'LOGSRV_ERR_TOO_MANY_TAILS',
        `too many live tails: ${this.clients.size} open, limit ${this.opts.maxClients} (--max-tail-clients); retry shortly`,
      );
    }
  }

  /**
   * Subscribes a new client and returns it with the id range its history must cover:
   * `(cursor, until]`. Events after `until` reach it through the hub from now on. `'now'` as the
   * cursor skips history. Call {@link admit} first.
   */
  attach(filter: TailFilter, res: ServerResponse, cursor: EventId | null | 'now'): { client: TailClient; cursor: EventId | null; until: EventId | null } {
    const from = cursor === 'now' ? this.watermark : cursor;
    const client = new TailClient(res, this, this.opts.clientBufferBytes, from ? `${from.ms}-${from.seq}` : null);
    const key = filterKey(filter);
    let sub = this.subs.get(key);
    if (!sub) {
      sub = new Subscription(key, filter);
      this.subs.set(key, sub);
      if (filter.session !== undefined) {
        let set = this.bySession.get(filter.session);
        if (!set) {
          set = new Set();
          this.bySession.set(filter.session, set);
        }
        set.add(sub);
      } else this.global.add(sub);
    }
    sub.clients.add(client);
    client.sub = sub;
    this.clients.add(client);
    return { client, cursor: from, until: this.watermark };
  }

  release(client: TailClient): void {
    this.clients.delete(client);
  }

  unsubscribe(client: TailClient): void {
    const sub = client.sub as Subscription | null;
    if (!sub) return;
    client.sub = null;
    sub.clients.delete(client);
    if (sub.clients.size === 0) this.retire(sub);
  }

  lagged(): void {
    this.metrics.lagged.inc();
  }

  /** Stops admitting, hands over what is pending, closes every tail; resolves when all are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pass !== null) this.writePass(Number.POSITIVE_INFINITY);
    this.flush();
    if (this.pass !== null) this.writePass(Number.POSITIVE_INFINITY);
    this.closed = true;
    this.unsubscribeFeed();
    clearInterval(this.heartbeatTimer);
    const all = [...this.clients];
    for (const c of all) c.shutdown();
    await Promise.all(all.map((c) => c.done));
  }

  /** Few enough clients to flush unpaced (see INLINE_FLUSH_CLIENTS). */
  private get small(): boolean {
    return this.clients.size <= INLINE_FLUSH_CLIENTS;
  }

  /** When the next flush may start: after the gap its last flush earned, and within the write budget. */
  private nextFlushAt(): number {
    return Math.max(
      this.lastFlushEnd + (this.lastFlushCost * (1 - this.share)) / this.share,
      this.lastFlushStart + (this.clients.size * 1000) / FANOUT_WRITES_PER_SECOND,
    );
  }

  /** `unpaced`: a small hub (see INLINE_FLUSH_CLIENTS) flushes on this turn, never on a timer. */
  private schedule(unpaced = false): void {
    // A pass in progress (a hub that was large) schedules what is pending when it ends.
    if (this.flushImmediate !== null || this.pass !== null) return;
    if (unpaced) {
      // A paced timer set while the hub was bigger gives way.
      if (this.flushTimer !== null) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.flushImmediate = setImmediate(this.flush);
      return;
    }
    if (this.flushTimer !== null) return;
    const wait = this.nextFlushAt() - performance.now();
    // setImmediate for a costly hub rather than flushing inside onCommit: the writer sends its
    // next batch to the store first, and commits landing in the same turn share one flush.
    if (wait <= 0) this.flushImmediate = setImmediate(this.flush);
    else this.flushTimer = setTimeout(this.flush, wait);
  }

  private readonly flush = (): void => {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.flushTimer = null;
    this.flushImmediate = null;
    if (this.pending.length === 0 || this.pass !== null) return;
    const t0 = performance.now();
    const commits = this.pending;
    this.pending = [];
    const touched: Subscription[] = [];
    const global = this.global;
    let last = this.watermark as EventId;
    for (const c of commits) {
      const { events, ms: msOf, seq: seqOf } = c.batch;
      for (let i = 0; i < events.length; i++) {
        const e = events[i] as NormalizedEvent;
        const own = this.bySession.get(e.session);
        if (own === undefined && global.size === 0) continue;
        const ms = msOf[i] as number;
        const seq = seqOf[i] as number;
        // Serialized at most once, whatever the number of subscriptions and clients.
        let frame: string | null = null;
        const ended = own !== undefined && isSessionEnd(e.key, e.value, e.vjson);
        if (own !== undefined) {
          for (const sub of own) {
            if (sub.end !== null) continue;
            if (sub.matches(e)) {
              frame ??= eventFrame(`${ms}-${seq}`, committedEventJson(e, ms, seq));
              this.add(sub, frame, { ms, seq }, touched);
            }
            if (ended) {
              sub.end = `${ms}-${seq}`;
              if (!sub.touched) {
                sub.touched = true;
                touched.push(sub);
              }
            }
          }
        }
        for (const sub of global) {
          if (sub.matches(e)) {
            frame ??= eventFrame(`${ms}-${seq}`, committedEventJson(e, ms, seq));
            this.add(sub, frame, { ms, seq }, touched);
          }
        }
      }
      const n = events.length - 1;
      last = { ms: msOf[n] as number, seq: seqOf[n] as number };
    }
    this.watermark = last;
    this.lastFlushStart = t0;
    const chunks = touched.map((sub) => this.takeChunk(sub));
    let receivers = 0;
    for (const { clients } of chunks) receivers += clients.length;
    this.pass = { chunks, upTo: last, commits, c: 0, i: 0, busy: 0 };
    // Written whole on this turn, unless large enough to need slices.
    this.writePass(receivers <= FANOUT_SLICE_CLIENTS ? Number.POSITIVE_INFINITY : FANOUT_SLICE_CLIENTS, t0);
  };

  /**
   * Writes the next `slice` sockets of the pass (all of them when Infinity); when it is done,
   * ends the flush, otherwise continues on the next turn of the event loop.
   */
  private writePass(slice: number, t0 = performance.now()): void {
    const pass = this.pass as Pass;
    if (this.passImmediate) clearImmediate(this.passImmediate);
    this.passImmediate = null;
    let left = slice;
    while (pass.c < pass.chunks.length && left > 0) {
      const { chunk, clients } = pass.chunks[pass.c] as { chunk: Chunk; clients: TailClient[] };
      const end = Math.min(clients.length, pass.i + left);
      for (let i = pass.i; i < end; i++) (clients[i] as TailClient).deliver(chunk, pass.upTo);
      left -= end - pass.i;
      pass.i = end;
      if (pass.i === clients.length) {
        pass.c++;
        pass.i = 0;
      }
    }
    pass.busy += performance.now() - t0;
    if (pass.c < pass.chunks.length) {
      this.passImmediate = setImmediate(() => this.writePass(FANOUT_SLICE_CLIENTS));
      return;
    }
    this.pass = null;
    this.flushed(pass.commits, pass.busy);
  }

  /** A flush has reached every socket: record it, and schedule the next if commits wait. */
  private flushed(commits: Commit[], busy: number): void {
    const t1 = performance.now();
    for (const c of commits) this.metrics.commitToTail.observe((t1 - c.at) / 1000);
    // The thread's other work since the last flush ended: its active time, less this flush's.
    const elu = performance.eventLoopUtilization();
    const cycle = performance.eventLoopUtilization(elu, this.lastElu);
    this.lastElu = elu;
    const wall = cycle.active + cycle.idle;
    const other = wall > 0 ? Math.max(0, cycle.active - busy) / wall : 1;
    const share = FANOUT_SHARE_MAX - (FANOUT_SHARE_MAX - FANOUT_SHARE_MIN) * Math.min(1, other / FANOUT_OTHER_FULL);
    this.share = share;
    this.lastFlushEnd = t1;
    this.lastFlushCost = busy;
    if (this.pending.length > 0 && !this.closed) this.schedule(this.small);
  }

  private add(sub: Subscription, frame: string, id: EventId, touched: Subscription[]): void {
    sub.frames.push(frame);
    sub.ids.push(id);
    sub.lastId = `${id.ms}-${id.seq}`;
    if (!sub.touched) {
      sub.touched = true;
      touched.push(sub);
    }
  }

  /** Takes a touched subscription's frames as one chunk, with the clients to get it. */
  private takeChunk(sub: Subscription): { chunk: Chunk; clients: TailClient[] } {
    const chunk: Chunk = {
      buf: sub.frames.length > 0 ? Buffer.from(sub.frames.join('')) : Buffer.alloc(0),
      ids: sub.ids,
      frames: sub.frames,
      lastId: sub.lastId,
      end: sub.end,
    };
    sub.frames = [];
    sub.ids = [];
    sub.lastId = null;
    sub.touched = false;
    // An ended subscription is retired before delivery, so a tail opened afterwards starts a
    // fresh one and learns of the end from the store.
    if (sub.end !== null) this.retire(sub);
    return { chunk, clients: [...sub.clients] };
  }

  private retire(sub: Subscription): void {
    if (this.subs.get(sub.key) !== sub) return;
    this.subs.delete(sub.key);
    if (sub.filter.session !== undefined) {
      const set = this.bySession.get(sub.filter.session);
      set?.delete(sub);
      if (set?.size === 0) this.bySession.delete(sub.filter.session);
    } else this.global.delete(sub);
  }
}
