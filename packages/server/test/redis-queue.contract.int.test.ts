/** The Queue contract against Redis Streams (127.0.0.1:6379, db 9, flushed per test). */
import { RedisLiveFeed, RedisQueue, type RedisQueueOptions } from '@logsrv/server';
import { queueContract } from './contract/queue-contract.ts';
import { redisOrSkip } from './services.ts';

const URL = 'redis://127.0.0.1:6379/9';

queueContract('redis', { redelivers: true }, async (bound, clock) => {
  if (!(await redisOrSkip(URL, { flush: true }))) return null;
  const base: RedisQueueOptions = {
    url: URL,
    shards: 3,
    maxEvents: bound.maxEvents,
    maxBytes: bound.maxBytes,
    clock,
    consume: true,
    leaseMs: 600,
    blockMs: 200,
  };
  const queue = await RedisQueue.open(base);
  // What a reader process follows: committed events read back from the streams.
  const feed = await RedisLiveFeed.open({ url: URL, shards: 3, pollMs: 50 });
  return {
    queue,
    feed,
    other: (consume: boolean) => RedisQueue.open({ ...base, consume }),
    crash: () => queue.abandon(),
    async dispose() {
      await feed.close();
      await queue.dispose();
    },
  };
});
