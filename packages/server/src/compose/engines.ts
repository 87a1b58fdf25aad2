/**
 * The engines a deployment runs on, picked from config and nowhere else: the store (embedded
 * SQLite, or PostgreSQL) and the queue with its commit feed (in-process, or Redis Streams).
 */
import type { EventId } from '@logsrv/protocol';
import type { ServerConfig } from '../config.js';
import { ConfigError } from '../config.js';
import type { CommitFeed } from '../queue/commit-feed.js';
import { MemoryQueue } from '../queue/memory-queue.js';
import type { Queue } from '../queue/queue.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';

export interface Engines {
  store: Store;
  queue: Queue;
  /** Commits as they happen, for the live hub. */
  feed: CommitFeed;
  /** The newest id stored when the engines opened: the live hub's first watermark. */
  lastId: EventId | null;
  close(): Promise<void>;
}

export async function openEngines(config: ServerConfig, clock: () => number): Promise<Engines> {
  if (config.store !== 'sqlite' || config.queue !== 'memory') {
    throw new ConfigError(`--store ${config.store} --queue ${config.queue}: the scale-out engines are not wired into this build yet`);
  }
  const store: Store = new SqliteStore({
    dataDir: config.dataDir,
    readerThreads: config.readerThreads,
    synchronous: config.sqliteSynchronous,
    searchIndex: config.searchIndex === 'on',
    searchChunkRows: config.searchChunkRows,
  });
  let lastId: EventId | null;
  try {
    // Recovers the last id now, so a broken data dir fails at start rather than on first write.
    lastId = await store.lastId();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  const queue = new MemoryQueue({ maxEvents: config.maxQueueEvents, maxBytes: config.maxQueueBytes, lastId, clock });
  return { store, queue, feed: queue.feed, lastId, close: () => store.close() };
}
