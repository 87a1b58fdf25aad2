/**
 * The commit feed of a reader process (SPEC §6 scale-out): committed events, in id order, read
 * from the streams — "in the queue or in the database" as one sequence.
 *
 * The live watermark W (scripts.ts LIVE_WATERMARK) is the newest id such that every event ≤ W,
 * in every shard, is committed. On each commit notice (and on a timer, in case a notice is lost)
 * the feed reads every shard's entries in (delivered, W], merges them by id and emits them; the
 * hub then holds exactly the guarantee it has in one process: everything up to its watermark is
 * in the store, everything after reaches its subscribers.
 *
 * Streams are trimmed behind the watermark (redis-leases.ts). A feed that fell behind the trim
 * point (`logsrv:trimmed:<shard>`) reads that part from the store instead, so it never trusts a
 * stream that lost entries it needs.
 */
import type { EventId, NormalizedEvent, StoredEvent } from '@logsrv/protocol';
import { compareIds, parseId } from '@logsrv/protocol';
import type { IdentifiedBatch } from '../../batch/index.js';
import type { Store } from '../../store/store.js';
import type { CommitFeed, CommitListener } from '../commit-feed.js';
import { compareStreamIds, decodeEvents, entryIds } from './codec.js';
import type { LogsrvRedis } from './connect.js';
import { openRedis } from './connect.js';
import { COMMITS_CHANNEL, IDS, lastKey, shardOf, streamKey, trimmedKey, watermarkKey } from './keys.js';

export interface RedisLiveFeedOptions {
  url: string;
  shards: number;
  /**
   * Where a feed that fell behind a trimmed stream reads the missing part. Without one such a
   * gap stops the feed (it warns and retries) rather than skip events.
   */
  store?: Store;
  /** Poll interval when no notice arrives. */
  pollMs?: number;
  warn?: (msg: string) => void;
}

export class RedisLiveFeed implements CommitFeed {
  private readonly listeners: CommitListener[] = [];
  private delivered: string | null = null;
  private pulling: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly o: RedisLiveFeedOptions,
    private readonly cmd: LogsrvRedis,
    private readonly sub: LogsrvRedis,
  ) {}

  /** Opens the feed at the current live watermark; `watermark` is the hub's first one. */
  static async open(o: RedisLiveFeedOptions): Promise<RedisLiveFeed> {
    const cmd = await openRedis(o.url, { name: 'logsrv-live' });
    const sub = await openRedis(o.url, { name: 'logsrv-live-sub', blocking: true }).catch((err) => {
      cmd.disconnect();
      throw err;
    });
    const f = new RedisLiveFeed(o, cmd, sub);
    f.delivered = await f.liveWatermark();
    sub.on('message', () => f.poke());
    await sub.subscribe(COMMITS_CHANNEL);
    f.timer = setInterval(() => f.poke(), o.pollMs ?? 250);
    f.timer.unref();
    return f;
  }

  /** The newest id emitted (everything up to it is committed). */
  get watermark(): EventId | null {
    return this.delivered ? parseId(this.delivered) : null;
  }

  subscribe(fn: CommitListener): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.pulling;
    this.sub.disconnect();
    this.cmd.disconnect();
  }

  private poke(): void {
    if (this.closed) return;
    if (this.pulling) {
      this.again = true;
      return;
    }
    this.pulling = this.pull()
      .catch((err: unknown) => this.o.warn?.(`live feed from Redis: ${(err as Error).message}`))
      .finally(() => {
        this.pulling = null;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async liveWatermark(): Promise<string | null> {
    const keys = [IDS];
    for (let s = 0; s < this.o.shards; s++) keys.push(lastKey(s), watermarkKey(s));
    return (await this.cmd.logsrvLiveWatermark(keys.length, ...keys)) ?? null;
  }

  private async pull(): Promise<void> {
    const w = await this.liveWatermark();
    if (w === null || (this.delivered !== null && compareStreamIds(w, this.delivered) <= 0)) return;
    const from = this.delivered;
    const parts: IdentifiedBatch[] = [];
    const trimmed = await this.cmd.mget(...Array.from({ length: this.o.shards }, (_x, s) => trimmedKey(s)));
    for (let s = 0; s < this.o.shards; s++) {
      const cut = trimmed[s] ?? null;
      let start = from;
      if (cut !== null && (from === null || compareStreamIds(cut, from) > 0)) {
        // Entries in (from, cut) may be gone from the stream: read them from the store.
        const until = compareStreamIds(cut, w) < 0 ? cut : w;
        parts.push(await this.fromStore(s, from, until));
        start = until;
      }
      parts.push(await this.fromStream(s, start, w));
    }
    const merged = mergeById(parts);
    this.delivered = w;
    if (merged.events.length === 0) return;
    for (const l of this.listeners) l({ entries: [], stored: merged, shard: -1 });
  }

  private async fromStream(shard: number, after: string | null, until: string): Promise<IdentifiedBatch> {
    const events: NormalizedEvent[] = [];
    const ids: { ms: number[]; seq: number[] } = { ms: [], seq: [] };
    let start = after === null ? '-' : `(${after}`;
    for (;;) {
      const entries = (await this.cmd.xrange(streamKey(shard), start, until, 'COUNT', 200)) as [string, string[]][];
      for (const [id, fields] of entries) {
        const at = fields.indexOf('e');
        const evs = decodeEvents(at >= 0 ? (fields[at + 1] ?? '[]') : '[]');
        const ms = new Float64Array(evs.length);
        const seq = new Float64Array(evs.length);
        entryIds(id, evs.length, ms, seq, 0);
        for (let i = 0; i < evs.length; i++) {
          // An entry straddling `after` (it cannot, ids of an entry are contiguous and the
          // watermark is an entry id) would show here; skip anything not above it.
          if (after !== null && compareIds({ ms: ms[i] as number, seq: seq[i] as number }, parseId(after) as EventId) <= 0) continue;
          events.push(evs[i] as NormalizedEvent);
          ids.ms.push(ms[i] as number);
          ids.seq.push(seq[i] as number);
        }
        start = `(${id}`;
      }
      if (entries.length < 200) break;
    }
    return { events, ms: Float64Array.from(ids.ms), seq: Float64Array.from(ids.seq) };
  }

  private async fromStore(shard: number, after: string | null, until: string): Promise<IdentifiedBatch> {
    const store = this.o.store;
    if (!store) throw new Error(`shard ${shard} was trimmed past ${after ?? 'the start'} and this feed has no store to read the gap from`);
    const events: NormalizedEvent[] = [];
    const ms: number[] = [];
    const seq: number[] = [];
    let pos = after ? parseId(after) : null;
    for (;;) {
      const page = await store.readEvents({ after: pos, until: parseId(until), limit: 1000 });
      for (const e of page.events) {
        if (shardOf(e.session, this.o.shards) !== shard) continue;
        const id = parseId(e.id) as EventId;
        events.push(toNormalized(e));
        ms.push(id.ms);
        seq.push(id.seq);
      }
      if (page.next === null) break;
      pos = parseId(page.next);
    }
    return { events, ms: Float64Array.from(ms), seq: Float64Array.from(seq) };
  }
}

/** Merges batches each in id order into one in id order. */
function mergeById(parts: IdentifiedBatch[]): IdentifiedBatch {
  const nonEmpty = parts.filter((p) => p.events.length > 0);
  if (nonEmpty.length === 1) return nonEmpty[0] as IdentifiedBatch;
  const n = nonEmpty.reduce((a, p) => a + p.events.length, 0);
  const events: NormalizedEvent[] = new Array(n);
  const ms = new Float64Array(n);
  const seq = new Float64Array(n);
  const pos = nonEmpty.map(() => 0);
  for (let k = 0; k < n; k++) {
    let best = -1;
    for (let p = 0; p < nonEmpty.length; p++) {
      const b = nonEmpty[p] as IdentifiedBatch;
      const i = pos[p] as number;
      if (i >= b.events.length) continue;
      if (best < 0) {
        best = p;
        continue;
      }
      const bb = nonEmpty[best] as IdentifiedBatch;
      const j = pos[best] as number;
      if (compareIds({ ms: b.ms[i] as number, seq: b.seq[i] as number }, { ms: bb.ms[j] as number, seq: bb.seq[j] as number }) < 0) best = p;
    }
    const b = nonEmpty[best] as IdentifiedBatch;
    const i = pos[best] as number;
    events[k] = b.events[i] as NormalizedEvent;
    ms[k] = b.ms[i] as number;
    seq[k] = b.seq[i] as number;
    pos[best] = i + 1;
  }
  return { events, ms, seq };
}

/** A stored event back in the queue's form (its frames render the same: store/rows.ts). */
function toNormalized(e: StoredEvent): NormalizedEvent {
  const isString = typeof e.value === 'string';
  return {
    session: e.session,
    key: e.key,
    value: isString ? (e.value as string) : JSON.stringify(e.value),
    vjson: isString ? 0 : 1,
    ts: Date.parse(e.ts),
    component: e.component ?? null,
    user: e.user ?? null,
    terminal: e.terminal ?? null,
    step: e.step ?? null,
    level: e.level ?? null,
    attrs: e.attrs === undefined ? null : JSON.stringify(e.attrs),
    producer: e.producer ?? null,
    pseq: e.seq ?? null,
  };
}
