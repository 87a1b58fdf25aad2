/**
 * Per-source rate limits (SPEC §7). The limiter sits behind {@link SourceLimiter} so scale-out can
 * swap the in-memory one for a Redis-backed one (rate-limiter-flexible has both) without touching
 * the HTTP or UDP receivers.
 */
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

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
  const limiter = new BurstyRateLimiter(steady, spare);
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
