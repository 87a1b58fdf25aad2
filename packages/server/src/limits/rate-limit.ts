/**
 * Per-source rate limits (SPEC §7). The limiter sits behind {@link SourceLimiter} so scale-out can
 * swap the in-memory one for a Redis-backed one (rate-limiter-flexible has both) without touching
 * the HTTP or UDP receivers.
 */
import type { Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export type Decision = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface SourceLimiter {
  /** Takes `points` (requests or datagrams) from `source`'s allowance. Never rejects. */
  consume(source: string, points?: number): Promise<Decision>;
}

const ALLOWED: Decision = { allowed: true };

/**
 * `perSecond` sustained, with short bursts up to `burst` within any 10 s window on top of it
 * (rate-limiter-flexible's bursty limiter: the burst allowance is spent only once the per-second
 * one is).
 */
export function createMemoryLimiter(perSecond: number, burst: number): SourceLimiter {
  const steady = new RateLimiterMemory({ points: perSecond, duration: 1 });
  const spare = new RateLimiterMemory({ keyPrefix: 'burst', points: Math.max(burst, 1), duration: 10 });
  return wrap(new BurstyRateLimiter(steady, spare));
}

/**
 * The same limits kept in Redis, shared by every receiver of a deployment: a source that spent its
 * allowance on one receiver is limited on all. While Redis cannot be reached each process falls
 * back to its own in-memory limits (rate-limiter-flexible's insurance limiter) rather than letting
 * everything through or refusing everything.
 */
export function createRedisLimiter(redis: Redis, perSecond: number, burst: number): SourceLimiter {
  const steady = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: 'logsrv:rl',
    points: perSecond,
    duration: 1,
    insuranceLimiter: new RateLimiterMemory({ points: perSecond, duration: 1 }),
  });
  const spare = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: 'logsrv:rl-burst',
    points: Math.max(burst, 1),
    duration: 10,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: 'burst', points: Math.max(burst, 1), duration: 10 }),
  });
  return wrap(new BurstyRateLimiter(steady, spare));
}

function wrap(limiter: BurstyRateLimiter): SourceLimiter {
  return {
    async consume(source, points = 1) {
      try {
        await limiter.consume(source, points);
        return ALLOWED;
      } catch (res) {
        if (res instanceof RateLimiterRes) return { allowed: false, retryAfterMs: Math.max(res.msBeforeNext, 1) };
        throw res;
      }
    },
  };
}
