/** The Store and Queue contracts against the embedded engines: SQLite files in a temp dir, the memory queue. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryQueue, SqliteStore } from '@logsrv/server';
import { queueContract } from './contract/queue-contract.ts';
import { storeContract } from './contract/store-contract.ts';

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-contract-'));
  const store = new SqliteStore({ dataDir: dir, readerThreads: 2, synchronous: 'normal' });
  return {
    store,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

queueContract('memory', { redelivers: false }, async (bound, clock) => {
  const queue = new MemoryQueue({ maxEvents: bound.maxEvents, maxBytes: bound.maxBytes, lastId: null, clock });
  return { queue, feed: queue.feed, async dispose() {} };
});
