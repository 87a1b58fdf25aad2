/**
 * Per-token event quotas (issue 5, SPEC §7 "rate limits per source IP and per token"): a token may
 * carry an allowance of events per second. A request's size is known only once its body has been
 * read (NDJSON streams), so the check is admission against the balance, and the events actually
 * accepted are charged after: the balance may go into debt, and the token's next request waits
 * until it is paid back. Nothing a request was told is accepted is ever taken back.
 *
 * Behind {@link EventQuota} so scale-out can keep the balances in Redis.
 */
import type { Decision } from './rate-limit.js';

export interface QuotaRule {
  perSecond: number;
  /** Largest balance: events a quiet token may send at once. */
  burst: number;
}

export interface EventQuota {
  /** Whether `key` may send now; when not, how long until its balance is positive again. */
  admit(key: string, rule: QuotaRule): Promise<Decision>;
  /** Takes `events` from `key`'s balance (after they were accepted). */
  charge(key: string, events: number, rule: QuotaRule): void;
}

/** Debt is capped: one huge request makes its token wait at most this long. */
const MAX_DEBT_SECONDS = 60;

export function createMemoryEventQuota(clock: () => number = Date.now): EventQuota {
  const balances = new Map<string, { balance: number; at: number }>();
  const current = (key: string, rule: QuotaRule) => {
    const now = clock();
    let b = balances.get(key);
    if (!b) {
      b = { balance: rule.burst, at: now };
      balances.set(key, b);
    }
    b.balance = Math.min(rule.burst, b.balance + ((now - b.at) / 1000) * rule.perSecond);
    b.at = now;
    return b;
  };
  return {
    async admit(key, rule) {
      const b = current(key, rule);
      if (b.balance > 0) return { allowed: true };
      return { allowed: false, retryAfterMs: Math.ceil(((-b.balance + 1) / rule.perSecond) * 1000) };
    },
    charge(key, events, rule) {
      const b = current(key, rule);
      b.balance = Math.max(-rule.perSecond * MAX_DEBT_SECONDS, b.balance - events);
    },
  };
}

/**
 * One atomic step on a token's balance in Redis. KEYS: the balance hash. ARGV: now ms, events per
 * second, burst, events to charge (0 to only read), most debt. Returns the balance after, as text
 * (Lua would truncate a number to an integer).
 */
const QUOTA_STEP = `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local charge = tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'balance', 'at')
local balance = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
if now > at then balance = math.min(burst, balance + (now - at) / 1000 * rate) end
if charge > 0 then balance = math.max(-tonumber(ARGV[5]), balance - charge) end
redis.call('HSET', KEYS[1], 'balance', tostring(balance), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst + tonumber(ARGV[5])) / rate * 1000) + 60000)
return tostring(balance)
`;

interface QuotaRedis {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * The same balances kept in Redis, so a token's quota holds across every receiver of a
 * deployment. While Redis cannot be reached, each process falls back to its own balances.
 */
export function createRedisEventQuota(redis: QuotaRedis, clock: () => number = Date.now): EventQuota {
  const fallback = createMemoryEventQuota(clock);
  const step = async (key: string, rule: QuotaRule, charge: number) =>
    Number(await redis.eval(QUOTA_STEP, 1, `logsrv:quota:${key}`, clock(), rule.perSecond, rule.burst, charge, rule.perSecond * MAX_DEBT_SECONDS));
  return {
    async admit(key, rule) {
      let balance: number;
      try {
        balance = await step(key, rule, 0);
      } catch {
        return fallback.admit(key, rule);
      }
      if (balance > 0) return { allowed: true };
      return { allowed: false, retryAfterMs: Math.ceil(((-balance + 1) / rule.perSecond) * 1000) };
    },
    charge(key, events, rule) {
      step(key, rule, events).catch(() => fallback.charge(key, events, rule));
    },
  };
}
