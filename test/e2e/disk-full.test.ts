/**
 * A full disk under the data directory (a small tmpfs mounted for the test): writes are refused
 * with 507 + Retry-After naming the disk, reads go on, and writes work again by themselves once
 * space is back — both when SQLite itself meets the full disk and when `--min-free-disk-bytes`
 * refuses first. Mounting needs root; elsewhere the test says why it skips (and fails under CI).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ServerProcess } from './helpers.js';
import { json, postNdjson, readAll, request, sleep, startServer, type tempDir, withServerLog } from './helpers.js';

const root = process.getuid?.() === 0;
const skip = root ? false : 'mounting a tmpfs needs root';
if (skip && process.env.CI === 'true') throw new Error(`disk-full tests cannot run under CI: ${skip}`);

/** A tmpfs of `mib` MiB, unmounted after the test. */
function smallDisk(t: Parameters<typeof tempDir>[0], mib: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'logsrv-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', ['-l', dir]); // lazy: the server may still have files open
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes a file until the disk is full (or `bytes` written); returns its path. */
function fill(dir: string, bytes = Number.POSITIVE_INFINITY): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let n = 0; n < bytes; n += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

const batch = (session: string, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ session, key: 'stdout', value: `line ${from + i} ${'x'.repeat(200)}` }));

async function postUntil(
  server: ServerProcess,
  session: string,
  status: number,
  tries = 200,
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  let last = { status: 0, text: '', headers: {} as Record<string, unknown> };
  for (let i = 0; i < tries; i++) {
    const r = await postNdjson(server.url, batch(session, i * 500, 500));
    last = r;
    if (r.status === status) return r;
    if (r.status !== 200 && r.status !== 507) throw new Error(`unexpected ${r.status}: ${r.text}`);
    await sleep(20);
  }
  throw new Error(`no ${status} after ${tries} posts; last ${last.status} ${last.text}`);
}

test('SQLite meets a full disk: 507 + Retry-After naming the disk, reads served, writes recover when space returns', { skip, timeout: 90_000 }, async (t) => {
  const disk = smallDisk(t, 24);
  const data = join(disk, 'data');
  const server = await startServer(t, { dataDir: data, args: ['--min-free-disk-bytes', '0', '--udp', 'off'] });
  const first = await postNdjson(server.url, batch('disk', 0, 10));
  assert.equal(first.status, 200, first.text);

  const filler = fill(disk);
  const full = await postUntil(server, 'disk', 507);
  assert.equal(full.headers['retry-after'], '5');
  const body = json<{ error: { code: string; message: string } }>(full as never);
  assert.equal(body.error.code, 'LOGSRV_ERR_DISK_FULL');
  assert.match(body.error.message, new RegExp(`disk full: the disk of the data directory ${data} has .*free`));

  // Reads keep working while writes are refused.
  const health = await request(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  const stored = await withServerLog(server, () => readAll(server.url, 'disk'));
  assert.ok(stored.length >= 10, `${stored.length} events readable`);
  assert.equal(stored[0]?.value, batch('disk', 0, 1)[0]?.value);

  // Space returns: writes go through again without a restart.
  rmSync(filler);
  const again = await postUntil(server, 'disk-after', 200, 100);
  assert.equal(json(again as never).accepted, 500);
  assert.equal((await readAll(server.url, 'disk-after')).length, 500);
  assert.ok(server.running());
});

test('--min-free-disk-bytes refuses writes before the disk is full, and lets them through again when space returns', { skip, timeout: 60_000 }, async (t) => {
  const disk = smallDisk(t, 32);
  const data = join(disk, 'data');
  const server = await startServer(t, { dataDir: data, args: ['--min-free-disk-bytes', String(16 * 1024 * 1024), '--udp', 'off'] });
  assert.equal((await postNdjson(server.url, batch('guard', 0, 10))).status, 200);
  // Leave about 8 MiB free: under the guard, far from full.
  const filler = fill(disk, 22 * 1024 * 1024);
  // The guard's free-space figure is at most 1 s old (DiskGuard's REFRESH_MS): posting at once would
  // fill those 8 MiB (day file, index file, session chunks) before it learns of the filler.
  await sleep(1100);
  const refused = await postUntil(server, 'guard', 507);
  assert.equal(refused.headers['retry-after'], '5');
  assert.match(json<{ error: { message: string } }>(refused as never).error.message, /free, under --min-free-disk-bytes 16 MiB/);
  const one = await postNdjson(server.url, batch('guard-refused', 0, 5));
  assert.equal(one.status, 507);
  assert.equal((await withServerLog(server, () => readAll(server.url, 'guard-refused'))).length, 0, 'nothing of a refused request is stored');
  assert.equal((await withServerLog(server, () => readAll(server.url, 'guard')))[0]?.value, batch('guard', 0, 1)[0]?.value, 'reads are served');
  rmSync(filler);
  await postUntil(server, 'guard', 200, 100);
});
