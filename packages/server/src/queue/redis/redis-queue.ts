/**
 * The scale-out queue: Redis Streams (SPEC §6). Receivers publish, writers take, in separate
 * processes or in one.
 *
 * - Publish: one Lua script splits a batch by shard (one session is always in one stream), gives
 *   ids from one counter for all shards, checks the bound and adds one entry per shard, all or
 *   nothing (scripts.ts PUBLISH). The publisher then waits for the entries' commit notices on
 *   `logsrv:commits`; a notice lost with a dropped subscription is made up for by a watchdog
 *   that compares pending entries with their shard's watermark.
 * - Take: a writer owns shards through leases (redis-leases.ts), so each shard commits in
 *   stream order. It reads its shards with XREADGROUP on a connection of its own, guarded by a
 *   watchdog (a blocking read can hang across a reconnect: ioredis #610, #1718). A shard it
 *   takes over starts with the entries the previous owner had taken and not acknowledged
 *   (XAUTOCLAIM): the store skips rows it already has, so they are stored once.
 * - Ack: only after the commit, in take order per shard: XACK, the backlog counters and the
 *   shard's watermark in one script, then a notice.
 * - Never MAXLEN on XADD (it drops pending entries silently: redis/redis #10756). Trimming is
 *   XTRIM MINID below both the oldest pending entry and the watermark minus a window that live
 *   readers may still need (redis-leases.ts).
 */
import { hostname } from 'node:os';
import type { EventId, NormalizedEvent } from '@logsrv/protocol';
import { formatBytes, LogsrvError } from '@logsrv/protocol';
import { isPacked, type PackedEvents, unpackEvents } from '../../batch/index.js';
import type { CommitListener, CommitNotice } from '../commit-feed.js';
import type { Accepted, EntryRef, Queue, TakenBatch } from '../queue.js';
import { compareStreamIds, decodeEvents, encodeEvents, entryIds } from './codec.js';
import type { LogsrvRedis } from './connect.js';
import { openRedis } from './connect.js';
import type { CommitMessage } from './keys.js';
import { BACKLOG, BACKLOG_BYTES, COMMITS_CHANNEL, GROUP, IDS, lastKey, leaseKey, shardOf, streamKey, watermarkKey } from './keys.js';
import { ShardLeases } from './redis-leases.js';

export interface RedisQueueOptions {
  url: string;
  /** Streams; a session always lands in the same one. Every process of a deployment must agree. */
  shards: number;
  /** Bound on events published and not yet acknowledged, over all shards. */
  maxEvents: number;
  /** Bound on their encoded size. */
  maxBytes: number;
  /** Epoch-ms clock for ids. */
  clock: () => number;
  /** Whether this process takes (a writer); receivers only publish. */
  consume: boolean;
  /** How long a writer's shard lease lasts without renewal (a dead writer's shards move after it). */
  leaseMs?: number;
  /** How long a blocking read waits for entries before looking again. */
  blockMs?: number;
  /** Entries kept below the watermark for live readers that lag. */
  trimWindowMs?: number;
  /** The newest id in the store at start: ids stay above it even if Redis lost its counter. */
  floor?: EventId | null;
  warn?: (msg: string) => void;
}

interface Waiting {
  /** Entries not yet settled, by `${shard}/${id}`, with the original indices of their events. */
  entries: Map<string, number[]>;
  duplicates: number[];
  resolve(a: Accepted): void;
  reject(err: Error): void;
  since: number;
}

interface Taken {
  batch: TakenBatch;
  sizes: number[];
  done: boolean;
  skipped: readonly number[] | undefined;
}

/** Entries read but not yet handed out, per shard, in stream order. */
interface Ready {
  id: string;
  events: NormalizedEvent[];
  size: number;
}

export class RedisQueue implements Queue {
  private closed = false;
  private backlog = 0;
  private readonly waiting = new Map<string, Waiting>();
  /**
   * Notices for entries nobody here waits for yet, kept briefly: a commit notice (on the
   * subscriber connection) can be read before the publish script's reply (on the command
   * connection) when both arrive while the event loop is busy, and the notice must not be lost —
   * it was, and the watchdog answered those requests 2–3 s late. Also holds other receivers'
   * entries, so it is bounded (EARLY_MAX, EARLY_MS).
   */
  private readonly early = new Map<string, { duplicates: number[] | undefined; at: number }>();
  private readonly listeners: CommitListener[] = [];
  private readonly ready = new Map<number, Ready[]>();
  /** Taken batches per shard in take order; acks apply in this order. */
  private readonly inflight = new Map<number, Taken[]>();
  private readonly taken = new Map<TakenBatch, Taken>();
  private turn = 0;
  private readonly ackChain = new Map<number, Promise<void>>();
  private readonly retry: { batch: TakenBatch; at: number; sizes: number[] }[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private blocking: LogsrvRedis | null = null;
  private leases: ShardLeases | null = null;
  private wake: (() => void) | null = null;
  /** Publish scripts sent and not answered yet: a draining close takes their entries too. */
  private readonly sending = new Set<Promise<unknown>>();
  /** The newest id this process handed out or knew of (see RedisQueueOptions.floor). */
  private floor = '';
  readonly consumer = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  private constructor(
    private readonly opts: RedisQueueOptions,
    private readonly cmd: LogsrvRedis,
    private readonly sub: LogsrvRedis,
  ) {}

  static async open(opts: RedisQueueOptions): Promise<RedisQueue> {
    const cmd = await openRedis(opts.url, { name: 'logsrv-queue' });
    let sub: LogsrvRedis;
    try {
      sub = await openRedis(opts.url, { name: 'logsrv-commits', blocking: true });
    } catch (err) {
      cmd.disconnect();
      throw err;
    }
    const q = new RedisQueue(opts, cmd, sub);
    await q.start();
    return q;
  }

  get depth(): number {
    return this.backlog;
  }

  /** Shards this writer owns now (for /metrics and tests). */
  get ownedShards(): number[] {
    return this.leases ? [...this.leases.owned] : [];
  }

  /** Creates each shard's stream and consumer group where missing (at start, and after Redis lost them in a restart). */
  private async ensureGroups(): Promise<void> {
    for (let s = 0; s < this.opts.shards; s++) {
      // From 0, not $: entries published before the group existed are taken too.
      await this.cmd.xgroup('CREATE', streamKey(s), GROUP, '0', 'MKSTREAM').catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
    }
  }

  private async start(): Promise<void> {
    const o = this.opts;
    if (o.floor) this.floor = `${o.floor.ms}-${o.floor.seq}`;
    await this.ensureGroups();
    this.sub.on('message', (_channel: string, text: string) => this.onNotice(text));
    await this.sub.subscribe(COMMITS_CHANNEL);
    this.timers.push(setInterval(() => void this.watchdog(), 1000));
    this.timers.push(setInterval(() => void this.refreshDepth(), 500));
    for (const t of this.timers) t.unref();
    await this.refreshDepth();
    if (o.consume) {
      this.blocking = await openRedis(o.url, { name: 'logsrv-writer', blocking: true });
      this.leases = new ShardLeases(this.cmd, {
        shards: o.shards,
        owner: this.consumer,
        leaseMs: o.leaseMs ?? 10_000,
        trimWindowMs: o.trimWindowMs ?? 60_000,
        clock: o.clock,
        canRelease: (s) => (this.inflight.get(s)?.length ?? 0) === 0 && (this.ready.get(s)?.length ?? 0) === 0,
        onAcquire: (s) => this.claim(s),
        warn: (m) => o.warn?.(m),
      });
      await this.leases.start();
    }
  }

  subscribe(fn: CommitListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  async publish(batch: NormalizedEvent[] | PackedEvents, _bytes: number): Promise<Accepted> {
    const events = isPacked(batch) ? unpackEvents(batch) : batch;
    if (this.closed) throw new LogsrvError('LOGSRV_ERR_SHUTTING_DOWN');
    const o = this.opts;
    // Split by shard, keeping each part in acceptance order.
    const parts = new Map<number, number[]>();
    for (let i = 0; i < events.length; i++) {
      const s = shardOf((events[i] as NormalizedEvent).session, o.shards);
      let p = parts.get(s);
      if (!p) {
        p = [];
        parts.set(s, p);
      }
      p.push(i);
    }
    const keys: string[] = [IDS, BACKLOG, BACKLOG_BYTES];
    const args: (string | number)[] = [o.maxEvents, o.maxBytes, o.clock(), this.floor];
    const order = [...parts.keys()];
    for (const s of order) {
      const idx = parts.get(s) as number[];
      const payload = encodeEvents(idx.map((i) => events[i] as NormalizedEvent));
      keys.push(streamKey(s), lastKey(s));
      args.push(idx.length, Buffer.byteLength(payload), payload);
    }
    let r: [string | number, number, number?];
    const sent = this.cmd.logsrvPublish(keys.length, ...keys, ...args);
    this.sending.add(sent);
    try {
      r = await sent;
    } catch (err) {
      throw new LogsrvError('LOGSRV_ERR_QUEUE_UNAVAILABLE', `the queue (Redis) is unavailable: ${(err as Error).message}; retry shortly`);
    } finally {
      this.sending.delete(sent);
    }
    if (Number(r[0]) === -1) {
      this.backlog = Number(r[1]);
      throw new LogsrvError(
        'LOGSRV_ERR_QUEUE_FULL',
        `ingest queue is full: ${r[1]} events / ${formatBytes(Number(r[2]))} waiting in Redis, limit ${o.maxEvents} events / ${formatBytes(o.maxBytes)} (--max-queue-events, --max-queue-bytes); retry shortly`,
      );
    }
    const ms = Number(r[0]);
    let seq = Number(r[1]);
    this.floor = `${ms}-${seq + events.length - 1}`;
    const entries = new Map<string, number[]>();
    for (const s of order) {
      const idx = parts.get(s) as number[];
      seq += idx.length;
      entries.set(`${s}/${ms}-${seq - 1}`, idx);
    }
    return new Promise<Accepted>((resolve, reject) => {
      const w: Waiting = { entries, duplicates: [], resolve, reject, since: Date.now() };
      for (const key of entries.keys()) this.waiting.set(key, w);
      for (const key of [...entries.keys()]) {
        const e = this.early.get(key);
        if (!e) continue;
        this.early.delete(key);
        this.settle(key, e.duplicates);
      }
    });
  }

  async take(maxEvents: number): Promise<TakenBatch | null> {
    const leases = this.leases;
    if (!leases || !this.blocking) throw new Error('this process does not take from the queue (not a writer)');
    for (;;) {
      const due = this.retry.findIndex((r) => r.at <= Date.now());
      if (due >= 0) {
        const [r] = this.retry.splice(due, 1);
        if (r) return this.track(r.batch, r.sizes);
      }
      const batch = this.fromReady(leases, maxEvents);
      if (batch) return batch;
      if (this.closed && this.sending.size > 0) await Promise.allSettled([...this.sending]);
      if (this.closed && this.retry.length === 0 && !(await this.anyNew(leases))) {
        await leases.stop();
        return null;
      }
      if (this.retry.length > 0 && this.closed) {
        await sleep(100);
        continue;
      }
      if (leases.owned.size === 0) {
        await this.nap(250);
        continue;
      }
      await this.readNew(leases, this.closed ? 0 : (this.opts.blockMs ?? 1000));
    }
  }

  async ack(batch: TakenBatch, skipped: readonly number[] | undefined): Promise<void> {
    const t = this.taken.get(batch);
    if (!t) return;
    t.done = true;
    t.skipped = skipped;
    await Promise.all([...shardsOf(batch)].map((s) => this.drainAcks(s)));
  }

  /** The store failed: the batch stays pending and is tried again after a pause; its publishers wait. */
  async fail(batch: TakenBatch, err: Error): Promise<void> {
    const t = this.taken.get(batch);
    const sizes = t ? t.sizes : batch.entries.map(() => 0);
    this.untrack(batch);
    this.opts.warn?.(`store write failed, retrying ${batch.events.length} events in 1 s: ${err.message}`);
    this.retry.push({ batch, sizes, at: Date.now() + 1000 });
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  /** Releases connections; call after the writer drained. */
  async dispose(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.leases?.stop();
    for (const w of new Set(this.waiting.values()))
      w.reject(new LogsrvError('LOGSRV_ERR_SHUTTING_DOWN', 'server is shutting down before the events were acknowledged; they may still be stored'));
    this.waiting.clear();
    this.blocking?.disconnect();
    this.sub.disconnect();
    await this.cmd.quit().catch(() => this.cmd.disconnect());
  }

  /**
   * Drops every connection at once, as a killed process would: nothing is acknowledged or
   * released, the leases expire and another writer claims what this one had taken.
   */
  abandon(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.leases?.abandon();
    this.blocking?.disconnect();
    this.sub.disconnect();
    this.cmd.disconnect();
    this.wake?.();
  }

  // ---- writer side ----

  /** Puts a batch in each of its shards' ack lines, in stream order (a retried batch goes back to its place). */
  private track(batch: TakenBatch, sizes: number[]): TakenBatch {
    const t: Taken = { batch, sizes, done: false, skipped: undefined };
    this.taken.set(batch, t);
    for (const shard of shardsOf(batch)) {
      let list = this.inflight.get(shard);
      if (!list) {
        list = [];
        this.inflight.set(shard, list);
      }
      const first = firstEntryOf(batch, shard);
      const at = list.findIndex((x) => compareStreamIds(firstEntryOf(x.batch, shard), first) > 0);
      if (at < 0) list.push(t);
      else list.splice(at, 0, t);
    }
    return batch;
  }

  private untrack(batch: TakenBatch): void {
    const t = this.taken.get(batch);
    if (!t) return;
    this.taken.delete(batch);
    for (const shard of shardsOf(batch)) {
      const list = this.inflight.get(shard);
      const i = list?.indexOf(t) ?? -1;
      if (list && i >= 0) list.splice(i, 1);
    }
  }

  /**
   * Entries read ahead, as one batch of up to `maxEvents` events (at least one entry) over every
   * shard this writer owns: with few requests in flight a shard holds little at a time, and one
   * transaction per shard would cost a commit each.
   */
  private fromReady(leases: ShardLeases, maxEvents: number): TakenBatch | null {
    const take: { r: Ready; shard: number }[] = [];
    let n = 0;
    // Start at a different shard each time, so a busy shard cannot keep the others waiting.
    const shards = [...this.ready.keys()];
    const from = this.turn++ % Math.max(1, shards.length);
    for (const shard of [...shards.slice(from), ...shards.slice(0, from)]) {
      const list = this.ready.get(shard) as Ready[];
      if (!leases.owned.has(shard)) continue;
      while (list.length > 0) {
        const r = list[0] as Ready;
        if (take.length > 0 && n + r.events.length > maxEvents) break;
        take.push({ r, shard });
        list.shift();
        n += r.events.length;
      }
      if (n >= maxEvents) break;
    }
    if (take.length === 0) return null;
    const events: NormalizedEvent[] = [];
    const ms = new Float64Array(n);
    const seq = new Float64Array(n);
    const entries: EntryRef[] = [];
    let at = 0;
    for (const { r, shard } of take) {
      entryIds(r.id, r.events.length, ms, seq, at);
      for (const e of r.events) events.push(e);
      entries.push({ id: r.id, count: r.events.length, shard });
      at += r.events.length;
    }
    return this.track(
      { events, ms, seq, entries },
      take.map(({ r }) => r.size),
    );
  }

  private addReady(shard: number, id: string, fields: string[]): void {
    const at = fields.indexOf('e');
    const payload = at >= 0 ? (fields[at + 1] ?? '[]') : '[]';
    let list = this.ready.get(shard);
    if (!list) {
      list = [];
      this.ready.set(shard, list);
    }
    list.push({ id, events: decodeEvents(payload), size: Buffer.byteLength(payload) });
  }

  /** Entries a previous owner of `shard` took and never acknowledged become this writer's, first in line. */
  private async claim(shard: number): Promise<void> {
    await this.ensureGroups();
    let cursor = '0-0';
    do {
      const r = (await this.cmd.xautoclaim(streamKey(shard), GROUP, this.consumer, 0, cursor, 'COUNT', 1000)) as [string, [string, string[]][] | null];
      cursor = r[0];
    } while (cursor !== '0-0');
    // Own pending entries (claimed, or left by this consumer name): read from 0, oldest first.
    let from = '0';
    for (;;) {
      const res = (await this.cmd.xreadgroup('GROUP', GROUP, this.consumer, 'COUNT', 100, 'STREAMS', streamKey(shard), from)) as
        | [string, [string, string[]][]][]
        | null;
      const entries = res?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      for (const [id, fields] of entries) {
        if (fields) this.addReady(shard, id, fields);
        from = id;
      }
    }
  }

  private async readNew(leases: ShardLeases, blockMs: number): Promise<void> {
    const shards = [...leases.owned];
    const args: (string | number)[] = ['GROUP', GROUP, this.consumer, 'COUNT', 16];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', ...shards.map(streamKey), ...shards.map(() => '>'));
    const conn = this.blocking as LogsrvRedis;
    // Watchdog: a blocking read that outlives its BLOCK by far hangs on a dead connection.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((r) => {
      timer = setTimeout(() => r('hung'), blockMs + 5000);
    });
    try {
      const res = await Promise.race([conn.call('XREADGROUP', ...args) as Promise<[string, [string, string[]][]][] | null>, hung]);
      if (res === 'hung') {
        this.opts.warn?.('a blocking read from Redis hung; reconnecting');
        conn.disconnect(true);
        return;
      }
      for (const [key, entries] of res ?? []) {
        const shard = Number(key.slice(key.lastIndexOf(':') + 1));
        for (const [id, fields] of entries) this.addReady(shard, id, fields);
      }
    } catch (err) {
      const msg = (err as Error).message;
      this.opts.warn?.(`reading the queue failed: ${msg}`);
      // Redis restarted without its data: streams and groups are new.
      if (/NOGROUP/.test(msg)) await this.ensureGroups().catch(() => {});
      await this.nap(500);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether any owned shard still has entries no one took (for a draining close). */
  private async anyNew(leases: ShardLeases): Promise<boolean> {
    if (leases.owned.size === 0) return false;
    await this.readNew(leases, 0);
    for (const [s, list] of this.ready) if (list.length > 0 && leases.owned.has(s)) return true;
    return false;
  }

  /** Applies acks of a shard's finished batches in take order, one script per batch. */
  private drainAcks(shard: number): Promise<void> {
    const prev = this.ackChain.get(shard) ?? Promise.resolve();
    const next = prev.then(async () => {
      const list = this.inflight.get(shard) ?? [];
      while (list.length > 0 && (list[0] as Taken).done) {
        const t = list[0] as Taken;
        await this.applyAck(t, shard);
        list.shift();
        if (![...shardsOf(t.batch)].some((s) => this.inflight.get(s)?.includes(t))) this.taken.delete(t.batch);
      }
    });
    this.ackChain.set(
      shard,
      next.catch(() => {}),
    );
    return next;
  }

  /** Acknowledges `shard`'s entries of a committed batch and announces them. */
  private async applyAck(t: Taken, shard: number): Promise<void> {
    const { batch, skipped } = t;
    const mine: { e: EntryRef; size: number; duplicates?: number[] }[] = [];
    let next = 0; // index into skipped
    let at = 0; // index into the batch
    batch.entries.forEach((e, k) => {
      let duplicates: number[] | undefined;
      for (let i = 0; i < e.count; i++, at++) {
        while (skipped !== undefined && next < skipped.length && (skipped[next] as number) < at) next++;
        if (skipped !== undefined && skipped[next] === at) {
          duplicates ??= [];
          duplicates.push(i);
          next++;
        }
      }
      if (e.shard === shard) mine.push(duplicates ? { e, size: t.sizes[k] ?? 0, duplicates } : { e, size: t.sizes[k] ?? 0 });
    });
    if (mine.length === 0) return;
    const last = (mine[mine.length - 1] as { e: EntryRef }).e;
    const args: (string | number)[] = [GROUP, this.consumer, last.id];
    for (const m of mine) args.push(m.e.id, m.e.count, m.size);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.cmd.logsrvAck(streamKey(shard), watermarkKey(shard), BACKLOG, BACKLOG_BYTES, leaseKey(shard), ...args);
        break;
      } catch (err) {
        // The rows are committed; only the bookkeeping is missing. Keep trying: until it lands
        // the entries stay pending and would be stored again (as no-ops) by the next owner.
        if (attempt === 0) this.opts.warn?.(`acknowledging to Redis failed, retrying: ${(err as Error).message}`);
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
    const msg: CommitMessage = { shard, wm: last.id, entries: mine.map((m) => (m.duplicates ? { id: m.e.id, duplicates: m.duplicates } : { id: m.e.id })) };
    await this.cmd.publish(COMMITS_CHANNEL, JSON.stringify(msg)).catch(() => {});
  }

  // ---- publisher side ----

  private onNotice(text: string): void {
    let msg: CommitMessage;
    try {
      msg = JSON.parse(text) as CommitMessage;
    } catch {
      return;
    }
    const now = Date.now();
    for (const e of msg.entries) {
      const key = `${msg.shard}/${e.id}`;
      if (this.waiting.has(key)) this.settle(key, e.duplicates);
      else this.early.set(key, { duplicates: e.duplicates, at: now });
    }
    // Oldest first (insertion order): drop what is too old or over the bound.
    for (const [key, e] of this.early) {
      if (this.early.size <= EARLY_MAX && now - e.at < EARLY_MS) break;
      this.early.delete(key);
    }
    const notice: CommitNotice = { entries: msg.entries.map((e) => ({ ...e, id: `${msg.shard}/${e.id}` })), stored: EMPTY, shard: msg.shard };
    for (const l of this.listeners) l(notice);
  }

  private settle(key: string, duplicates: number[] | undefined): void {
    const w = this.waiting.get(key);
    if (!w) return;
    this.waiting.delete(key);
    const idx = w.entries.get(key) as number[];
    w.entries.delete(key);
    if (duplicates) for (const d of duplicates) w.duplicates.push(idx[d] as number);
    if (w.entries.size === 0) {
      w.duplicates.sort((a, b) => a - b);
      w.resolve(w.duplicates.length > 0 ? { duplicates: w.duplicates } : {});
    }
  }

  /** Settles publishes whose notice never came (a dropped subscription) from the shards' watermarks. */
  private async watchdog(): Promise<void> {
    const old = [...this.waiting.entries()].filter(([, w]) => Date.now() - w.since > 2000);
    if (old.length === 0) return;
    const shards = [...new Set(old.map(([k]) => Number(k.slice(0, k.indexOf('/')))))];
    let wms: (string | null)[];
    try {
      wms = await this.cmd.mget(...shards.map(watermarkKey));
    } catch {
      return;
    }
    const wm = new Map(shards.map((s, i) => [s, wms[i] ?? null]));
    for (const [key] of old) {
      const cut = key.indexOf('/');
      const w = wm.get(Number(key.slice(0, cut)));
      if (w && compareStreamIds(key.slice(cut + 1), w) <= 0) this.settle(key, undefined);
    }
  }

  private async refreshDepth(): Promise<void> {
    try {
      this.backlog = Number((await this.cmd.get(BACKLOG)) ?? 0);
    } catch {
      // Redis is down: keep the last figure.
    }
  }

  private nap(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}

const EMPTY = { events: [], ms: new Float64Array(0), seq: new Float64Array(0) };
const EARLY_MAX = 50_000;
const EARLY_MS = 30_000;

function shardsOf(batch: TakenBatch): Set<number> {
  return new Set(batch.entries.map((e) => e.shard));
}

/** The id of the batch's first entry of `shard` (entries of one shard are in stream order). */
function firstEntryOf(batch: TakenBatch, shard: number): string {
  return batch.entries.find((e) => e.shard === shard)?.id ?? '0-0';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
