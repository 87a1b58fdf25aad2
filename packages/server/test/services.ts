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

/** A fresh database on the PostgreSQL at `admin`'s server, dropped by the returned function; null when unreachable (skips; fails under CI). */
export async function freshPgDatabase(admin = 'postgres://postgres@127.0.0.1:5432/test'): Promise<{ url: string; drop(): Promise<void> } | null> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(admin, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  const name = `logsrv_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  try {
    await sql.unsafe(`CREATE DATABASE ${name}`);
  } catch (err) {
    await sql.end({ timeout: 1 });
    return missing(`PostgreSQL at ${admin}`, err);
  }
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await sql.end({ timeout: 1 });
    },
  };
}
