/**
 * The engines a deployment runs on, picked from config and nowhere else: the store (embedded
 * SQLite, or PostgreSQL, with an optional read replica) and the queue with its commit feed
 * (in-process, or Redis Streams). What a process opens depends on the modules its role runs: a
 * receiver publishes, a writer takes, a reader follows the live feed.
 */
import { join } from 'node:path';
import type { EventId } from '@logsrv/protocol';
import type { ServerConfig } from '../config.js';
import { StartError } from '../lifecycle.js';
import type { CommitFeed } from '../queue/commit-feed.js';
import { MemoryQueue } from '../queue/memory-queue.js';
import type { Queue } from '../queue/queue.js';
import { RedisUnavailable } from '../queue/redis/connect.js';
import { RedisLiveFeed } from '../queue/redis/redis-live-feed.js';
import { RedisQueue } from '../queue/redis/redis-queue.js';
import { PostgresStore, redact } from '../store/postgres/postgres-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';

export type Module = 'receiver' | 'writer' | 'reader';

export interface Engines {
  /** The primary store: writes, registrations, and tails' history (which must see every commit). */
  store: Store;
  /** Where queries and reports read: a replica (--store-read), or the primary. */
  readStore: Store;
  /** Null in a process that neither receives nor writes. */
  queue: Queue | null;
  /** Committed events for the live hub; null without the reader module. */
  feed: CommitFeed | null;
  /** The hub's first watermark: every event up to it is in the store. */
  lastId: EventId | null;
  /** The Redis URL when the queue is Redis (other parts share it: registry sync). */
  redisUrl: string | null;
  close(): Promise<void>;
}

export async function openEngines(config: ServerConfig, clock: () => number, modules: ReadonlySet<Module>, warn: (msg: string) => void): Promise<Engines> {
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const store = await openStore(config, clock);
    closers.push(() => store.close());
    let readStore: Store = store;
    if (config.storeRead !== 'same') {
      const replica = await openReplica(config.storeRead);
      closers.push(() => replica.close());
      readStore = replica;
    }

    if (config.queue === 'memory') {
      // Recovers the last id now, so a broken data dir fails at start rather than on first write.
      const lastId = await store.lastId();
      const queue = new MemoryQueue({ maxEvents: config.maxQueueEvents, maxBytes: config.maxQueueBytes, lastId, clock });
      return { store, readStore, queue, feed: queue.feed, lastId, redisUrl: null, close: closeAll };
    }

    const url = config.queue;
    let queue: RedisQueue | null = null;
    if (modules.has('receiver') || modules.has('writer')) {
      const floor = await store.lastId();
      const q = await RedisQueue.open({
        url,
        shards: config.queueShards,
        maxEvents: config.maxQueueEvents,
        maxBytes: config.maxQueueBytes,
        clock,
        consume: modules.has('writer'),
        floor,
        warn,
      });
      closers.push(() => q.dispose());
      queue = q;
    }
    let feed: RedisLiveFeed | null = null;
    if (modules.has('reader')) {
      const f = await RedisLiveFeed.open({ url, shards: config.queueShards, store, warn });
      closers.push(() => f.close());
      feed = f;
    }
    return { store, readStore, queue, feed, lastId: feed?.watermark ?? null, redisUrl: url, close: closeAll };
  } catch (err) {
    await closeAll();
    throw startFailure(err, config);
  }
}

/**
 * What could not be reached, in one line (the CLI prints it and exits 1). PostgresStore.open
 * already names the store (URL without password) in its message; this adds what to check.
 */
function startFailure(err: unknown, config: ServerConfig): unknown {
  if (err instanceof RedisUnavailable) return new StartError(`${err.message} (--queue); is Redis running?`);
  const msg = (err as Error)?.message ?? String(err);
  if (/no logsrv schema yet/.test(msg)) return new StartError(`--store-read ${redact(config.storeRead)}: ${msg}`);
  if (msg.startsWith('cannot open the PostgreSQL store')) return new StartError(`${msg}; is PostgreSQL running and the database created?`);
  return err;
}

/**
 * A read replica. A deployment's first start creates the schema on the primary; the replica has
 * it only once replication caught up, so a missing schema is waited for (30 s) before it counts.
 */
async function openReplica(url: string): Promise<Store> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await PostgresStore.open(url, { readOnly: true, applicationName: 'logsrv-reader' });
    } catch (err) {
      if (!/no logsrv schema yet/.test((err as Error).message) || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function openStore(config: ServerConfig, clock: () => number): Promise<Store> {
  if (config.store === 'sqlite') {
    return new SqliteStore({
      dataDir: config.dataDir,
      readerThreads: config.readerThreads,
      synchronous: config.sqliteSynchronous,
      searchIndex: config.searchIndex === 'on',
      searchChunkRows: config.searchChunkRows,
      searchIndexMaxLagRows: config.searchIndexMaxLagRows,
      searchIndexBurstLagRows: config.searchIndexBurstLagRows,
      sessionChunks: config.sessionChunks === 'on',
      sessionChunkFlushMs: config.sessionChunkFlushMs,
    });
  }
  return PostgresStore.open(config.store, {
    clock,
    searchIndex: config.searchIndex === 'on',
    archiveDir: join(config.dataDir, 'archive'),
    applicationName: `logsrv-${config.role}`,
  });
}
