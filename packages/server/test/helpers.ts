/** Shared by the server's integration tests: a real server on port 0 over a temp SQLite dir. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningServer, StartOptions } from '@logsrv/server';
import { loadConfig, startServer } from '@logsrv/server';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Stops the server and deletes its data dir. */
  dispose(): Promise<void>;
}

export async function startTestServer(flags: Record<string, unknown> = {}, opts: StartOptions & { dataDir?: string } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'logsrv-test-'));
  const config = loadConfig({ http: '127.0.0.1:0', udp: '127.0.0.1:0', dataDir, logLevel: 'silent', ...flags });
  const server = await startServer(config, opts);
  return Object.assign(server, {
    dataDir,
    async dispose() {
      await server.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', ...headers } });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, headers: res.headers };
}

export async function readAll(url: string, session: string, params: Record<string, string> = {}): Promise<any[]> {
  const events: any[] = [];
  let after = params.after ?? '';
  for (;;) {
    const qs = new URLSearchParams({ ...params, after, limit: params.limit ?? '1000' });
    const res = await fetch(`${url}/v1/sessions/${encodeURIComponent(session)}/events?${qs}`);
    if (res.status !== 200) throw new Error(`read failed: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { events: any[]; next: string | null };
    events.push(...page.events);
    if (!page.next) return events;
    after = page.next;
  }
}

/** The body of a GET that must answer 200 (the body is in the failure message otherwise). */
export async function text(url: string): Promise<string> {
  const res = await fetch(url);
  const body = await res.text();
  assert.equal(res.status, 200, `${url}: ${body}`);
  return body;
}

/** Waits until `check` holds, looking every 50 ms; throws after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function ndjson(events: unknown[]): string {
  return `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;
}

/** A seeded PRNG (mulberry32), so a randomized test replays the same sequence for a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A thread's nice value (Linux: field 19 of /proc/self/task/<tid>/stat; the fields after the name start at field 3). */
export function threadNice(tid: string): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}
