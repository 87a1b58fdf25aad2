/**
 * A fresh PostgreSQL database for one benchmark repetition, dropped after it, on the server of
 * `adminUrl` (default postgres://postgres@127.0.0.1:5432/test, or BENCH_PG).
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export const PG_ADMIN_URL = process.env.BENCH_PG ?? process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function withDatabase<T>(fn: (url: string) => Promise<T>, adminUrl = PG_ADMIN_URL): Promise<T> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  const name = `logsrv_bench_${randomBytes(4).toString('hex')}`;
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } catch (err) {
    await admin.end({ timeout: 1 });
    throw err;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end({ timeout: 1 });
  }
}
