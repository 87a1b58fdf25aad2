/**
 * A fresh PostgreSQL database per test file on the machine's server (PG_URL, default
 * postgres://postgres@127.0.0.1:5432/test as the admin connection), dropped afterwards. With
 * CI=true a missing server fails; otherwise the caller skips with the printed reason.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export const ADMIN_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TempDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates `logsrv_t_<random>`; null (with the reason printed) when PostgreSQL is not reachable and CI is not set. */
export async function tempDatabase(prefix = 'logsrv_t'): Promise<TempDatabase | null> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end({ timeout: 1 });
    const why = `PostgreSQL not available at ${ADMIN_URL}: ${(err as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`${why} (CI=true: the PostgreSQL tests must run)`);
    console.log(`# skipping PostgreSQL tests: ${why}`);
    return null;
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end({ timeout: 1 });
      }
    },
  };
}
