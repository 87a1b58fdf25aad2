/**
 * Real services for integration tests. A test that needs Redis or PostgreSQL connects to the one
 * on this machine; when it is missing the test fails under CI (CI=true) and skips with a printed
 * reason elsewhere (a newcomer's laptop).
 */
import { Redis } from 'ioredis';

function missing(what: string, err: unknown): false {
  const msg = `${what} is not reachable: ${(err as Error).message}`;
  if (process.env.CI === 'true') throw new Error(`${msg} (CI=true: the services must run; .ci/run starts them)`);
  process.stderr.write(`# skipping: ${msg}\n`);
  return false;
}

/** Whether Redis answers at `url`; with `flush`, its db is emptied first. */
export async function redisOrSkip(url: string, opts: { flush?: boolean } = {}): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    if (opts.flush) await r.flushdb();
    return true;
  } catch (err) {
    return missing(`Redis at ${url}`, err);
  } finally {
    r.disconnect();
  }
}

/** A fresh PostgreSQL database (pg-helpers.ts), for the tests that also need Redis. */
export { tempDatabase as freshPgDatabase } from './pg-helpers.ts';
