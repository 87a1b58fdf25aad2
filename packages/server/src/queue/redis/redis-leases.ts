/**
 * Which writer owns which shard. One owner per shard at a time keeps a shard's commits in
 * stream order, which makes its watermark exact. Writers announce themselves in a sorted set;
 * each takes a fair share (shards / live writers, rounded up) of the free shards and gives back
 * what is over its share once it has nothing of that shard in hand, so a new writer gets work
 * and a dead one's shards move when its leases expire (then the new owner claims the entries it
 * had taken: redis-queue.ts `claim`). The owner also trims its shards' streams.
 */
import type { LogsrvRedis } from './connect.js';
import { GROUP, leaseKey, streamKey, trimmedKey, WRITERS, watermarkKey } from './keys.js';

export interface ShardLeasesOptions {
  shards: number;
  owner: string;
  leaseMs: number;
  trimWindowMs: number;
  clock: () => number;
  /** Whether the writer may give `shard` back now (nothing of it taken or read ahead). */
  canRelease: (shard: number) => boolean;
  /** Called once a shard is acquired, before entries of it are read. */
  onAcquire: (shard: number) => Promise<void>;
  warn: (msg: string) => void;
}

export class ShardLeases {
  readonly owned = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly redis: LogsrvRedis,
    private readonly o: ShardLeasesOptions,
  ) {}

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(
      () => {
        this.running ??= this.tick().finally(() => {
          this.running = null;
        });
      },
      Math.max(100, Math.floor(this.o.leaseMs / 3)),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    for (const s of this.owned) await this.redis.logsrvRelease(leaseKey(s), this.o.owner).catch(() => {});
    this.owned.clear();
    await this.redis.zrem(WRITERS, this.o.owner).catch(() => {});
  }

  /** Stops renewing without releasing anything (the process is going away abruptly). */
  abandon(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.owned.clear();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const o = this.o;
    try {
      const now = Date.now();
      await this.redis.zadd(WRITERS, now, o.owner);
      await this.redis.zremrangebyscore(WRITERS, '-inf', now - o.leaseMs);
      const live = Math.max(1, await this.redis.zcard(WRITERS));
      const share = Math.ceil(o.shards / live);
      for (const s of [...this.owned]) {
        if ((await this.redis.logsrvRenew(leaseKey(s), o.owner, o.leaseMs)) !== 1) {
          this.owned.delete(s);
          o.warn(`lost the lease of shard ${s} (this writer was too slow to renew it); another writer takes it over`);
        }
      }
      for (let s = 0; s < o.shards && this.owned.size < share; s++) {
        if (this.owned.has(s)) continue;
        if ((await this.redis.set(leaseKey(s), o.owner, 'PX', o.leaseMs, 'NX')) === 'OK') {
          await o.onAcquire(s);
          this.owned.add(s);
        }
      }
      for (const s of [...this.owned]) {
        if (this.owned.size <= share) break;
        if (!o.canRelease(s)) continue;
        this.owned.delete(s);
        await this.redis.logsrvRelease(leaseKey(s), o.owner);
      }
      for (const s of this.owned) await this.trim(s);
    } catch (err) {
      o.warn(`shard bookkeeping with Redis failed: ${(err as Error).message}`);
    }
  }

  /**
   * Trims below min(oldest pending entry, watermark − window). Entries at or below the watermark
   * are acknowledged; the window keeps them for live readers a little behind (a reader that
   * falls further behind reads the gap from the store: redis-live-feed.ts).
   */
  private async trim(shard: number): Promise<void> {
    const wm = await this.redis.get(watermarkKey(shard));
    if (!wm) return;
    const wmMs = Number(wm.slice(0, wm.indexOf('-')));
    let cut = `${Math.max(0, wmMs - this.o.trimWindowMs)}-0`;
    const pending = (await this.redis.xpending(streamKey(shard), GROUP)) as [number, string | null, string | null, unknown];
    if (pending[0] > 0 && pending[1]) {
      const p = pending[1];
      if (Number(p.slice(0, p.indexOf('-'))) < Number(cut.slice(0, cut.indexOf('-')))) cut = p;
    }
    await this.redis.set(trimmedKey(shard), cut);
    await this.redis.xtrim(streamKey(shard), 'MINID', '~', cut);
  }
}
