/**
 * Connections to Redis. The URL (`redis://HOST:PORT/DB`) alone picks the server and the db, so
 * two deployments can share one server. Commands made while Redis is down fail at once (no
 * offline queue): a receiver answers 503 instead of holding the request.
 */
import { Redis } from 'ioredis';
import { ConfigError } from '../../config.js';
import { ACK, LIVE_WATERMARK, PUBLISH, RELEASE, RENEW } from './scripts.js';

export interface LogsrvRedis extends Redis {
  logsrvPublish(numKeys: number, ...args: (string | number)[]): Promise<[string | number, number, number?]>;
  logsrvAck(...args: (string | number)[]): Promise<number>;
  logsrvRenew(key: string, owner: string, ttlMs: number): Promise<number>;
  logsrvRelease(key: string, owner: string): Promise<number>;
  logsrvLiveWatermark(numKeys: number, ...keys: string[]): Promise<string | null>;
}

export function checkRedisUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--queue ${url}: not a URL; use redis://HOST:PORT/DB`);
  }
  if (u.protocol !== 'redis:') throw new ConfigError(`--queue ${url}: use redis://HOST:PORT/DB (or "memory")`);
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname))
    throw new ConfigError(`--queue ${url}: the path must be a db number, e.g. redis://127.0.0.1:6379/0`);
}

/** A connection with logsrv's scripts. `blocking` connections retry forever; command ones fail fast while Redis is down. */
export function connectRedis(url: string, opts: { name: string; blocking?: boolean }): LogsrvRedis {
  const r = new Redis(url, {
    connectionName: opts.name,
    lazyConnect: true,
    enableOfflineQueue: !!opts.blocking,
    maxRetriesPerRequest: opts.blocking ? null : 1,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    enableAutoPipelining: !opts.blocking,
  }) as LogsrvRedis;
  // Errors surface on the commands; the connection's own error events would otherwise crash.
  r.on('error', () => {});
  r.defineCommand('logsrvPublish', { lua: PUBLISH });
  r.defineCommand('logsrvAck', { numberOfKeys: 5, lua: ACK });
  r.defineCommand('logsrvRenew', { numberOfKeys: 1, lua: RENEW });
  r.defineCommand('logsrvRelease', { numberOfKeys: 1, lua: RELEASE });
  r.defineCommand('logsrvLiveWatermark', { lua: LIVE_WATERMARK });
  return r;
}

/** Connects, or fails with a message that names the URL. */
export async function openRedis(url: string, opts: { name: string; blocking?: boolean }): Promise<LogsrvRedis> {
  const r = connectRedis(url, opts);
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    r.disconnect();
    throw new RedisUnavailable(`cannot reach Redis at ${url}: ${(err as Error).message}`);
  }
  return r;
}

export class RedisUnavailable extends Error {
  override name = 'RedisUnavailable';
}
