/**
 * The stored data set of the `query` benchmark: N events (default 10M) over three UTC days, written
 * through the server's own store (SqliteStore from packages/server/dist — the writer thread's
 * schema, summaries and full-text index, exactly as the server writes them), without HTTP.
 *
 * Generating 10M events takes minutes here, so the result is cached under
 * `os.tmpdir()/logsrv-bench-query/<key>-<N>/`, keyed by a hash of the store's schema (day tables,
 * summary and search schema, tokenizer) and this generator's version: a schema change regenerates
 * it. `dataset.json` is written last and records each file's size; a missing or different one
 * means the cache is incomplete or was written to, and it is rebuilt. The three days are written in
 * parallel, each by its own store in a scratch directory, then moved together.
 *
 * Shape: sessions of 10,000 events each, written in runs of 100 lines with `live` sessions
 * interleaved (so one session's rows are spread over its day files, not contiguous), sessions
 * spanning midnight; four events in five are command output (~150 characters of words and hex
 * ids), the fifth a structured event with component, level and the session's user. Each session is
 * registered to its user and a terminal. 1,000 rare words (`zr0000`…) occur about three times each.
 * The days are complete, so their session chunk files are compacted (compact-chunks.ts), as a
 * server does when it leaves a day.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NormalizedEvent } from '@logsrv/protocol';

/** Bump when the generated data changes shape (3: the days' session chunks compacted, as complete days are). */
const GENERATOR_VERSION = 3;
export const EVENTS_PER_SESSION = 10_000;
const RUN = 100;
const BATCH = 10_000;
export const RARE_WORDS = 1000;
export const COMMON_WORD = 'timeout';
const DAYS = 3;
/** Each day's events are received in its first 20 hours. */
const DAY_SPAN_MS = 20 * 3_600_000;
/** The first day of the data set (UTC); the benchmark shifts the server's clock to it when it writes. */
export const FIRST_DAY_MS = Date.UTC(2026, 0, 5);

const WORDS = (
  'compile link test fetch resolve module package cache hit miss warn error retry timeout build step ' +
  'layer image push pull upload download checksum verify install target source output bytes done took ' +
  'worker queue shard index commit flush open close read write socket request response handler route'
).split(' ');
const COMPONENTS = ['builder', 'runner', 'agent', 'fetcher', 'api'];
const LEVELS = ['info', 'info', 'info', 'debug', 'warn', 'error'];
const STEPS = ['checkout', 'install', 'compile', 'test', 'package', 'deploy'];

export interface QueryDataset {
  dir: string;
  events: number;
  /** Sessions of EVENTS_PER_SESSION events, complete ones only. */
  sessions: string[];
  users: string[];
  /** Receipt time of the last event. */
  lastMs: number;
  /** Seconds it took to generate (when this run generated it), and at how many events/s. */
  generatedSeconds: number | null;
  files: Record<string, number>;
}

interface StoreLike {
  append(batch: { events: NormalizedEvent[]; ms: Float64Array; seq: Float64Array }): Promise<unknown>;
  register(session: string, reg: { user?: string; terminal?: string; attrs?: Record<string, unknown> }, nowMs: number): Promise<unknown>;
  close(): Promise<void>;
  /** Rows not yet in the full-text index (its own thread): waited for before closing. */
  searchIndexLagRows?(): number;
  /** Rows not yet in the session chunks (their own thread): waited for before closing. */
  sessionChunksLagRows?(): number;
}

/** Live sessions at a time: 400 at 10M events, fewer for small data sets so sessions complete. */
function liveSessions(events: number): number {
  return Math.max(1, Math.min(400, Math.floor(events / (EVENTS_PER_SESSION * 2.5))));
}

export function sessionName(n: number): string {
  return `q-${n.toString(16).padStart(6, '0')}`;
}

export function userOf(session: number, users: number): string {
  return `user-${String(session % users).padStart(3, '0')}`;
}

export function rareWord(k: number): string {
  return `zr${k.toString(36).padStart(4, '0')}`;
}

function userCount(sessions: number): number {
  return Math.max(1, Math.min(100, Math.floor(sessions / 10)));
}

/** A small fast PRNG seeded per event, so any event can be generated on its own (mulberry32). */
export function rngAt(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Shape {
  readonly live: number;
  readonly sessions: number;
  readonly users: number;
  readonly rareRate: number;
  constructor(readonly events: number) {
    this.live = liveSessions(events);
    const perGeneration = this.live * EVENTS_PER_SESSION;
    this.sessions = Math.ceil(events / perGeneration) * this.live;
    this.users = userCount(this.sessions);
    this.rareRate = (3 * RARE_WORDS) / events;
  }

  sessionOf(i: number): number {
    const perGeneration = this.live * EVENTS_PER_SESSION;
    return Math.floor(i / perGeneration) * this.live + (Math.floor(i / RUN) % this.live);
  }

  /** Sessions that got all their events. */
  completeSessions(): number[] {
    const perGeneration = this.live * EVENTS_PER_SESSION;
    const full = Math.floor(this.events / perGeneration);
    return Array.from({ length: full * this.live }, (_, s) => s);
  }

  event(i: number): NormalizedEvent {
    const r = rngAt(i + 1);
    const s = this.sessionOf(i);
    const session = sessionName(s);
    let text = '';
    const want = 140 + Math.floor(r() * 40);
    while (text.length < want) {
      const x = r();
      text += x < 0.15 ? `${Math.floor(r() * 0xffffffff).toString(16)} ` : `${WORDS[Math.floor(r() * WORDS.length)]} `;
    }
    if (r() < this.rareRate) text += `${rareWord(Math.floor(r() * RARE_WORDS))} `;
    text = text.trimEnd();
    if (r() < 0.2) {
      return {
        session,
        key: 'api.latency',
        value: JSON.stringify({ n: i, ms: Math.round(r() * 50000) / 100, note: text.slice(0, 60) }),
        vjson: 1,
        ts: null,
        component: COMPONENTS[Math.floor(r() * COMPONENTS.length)] as string,
        user: userOf(s, this.users),
        terminal: null,
        step: null,
        level: LEVELS[Math.floor(r() * LEVELS.length)] as string,
        attrs: null,
        producer: null,
        pseq: null,
      };
    }
    return {
      session,
      key: r() < 0.8 ? 'stdout' : 'stderr',
      value: `${String(i).padStart(9, '0')} ${text}`,
      vjson: 0,
      ts: null,
      component: null,
      user: null,
      terminal: null,
      step: STEPS[Math.floor(r() * STEPS.length)] as string,
      level: null,
      attrs: null,
      producer: null,
      pseq: null,
    };
  }

  /**
   * Receipt time of batch b: batches spread evenly over 00:01–20:00 of each day, so a server
   * whose clock is set just after the last event writes into the last day's file for hours.
   */
  batchMs(b: number): number {
    const batches = Math.ceil(this.events / BATCH);
    const perDay = Math.ceil(batches / DAYS);
    const day = Math.floor(b / perDay);
    const within = b - day * perDay;
    return FIRST_DAY_MS + day * 86_400_000 + 60_000 + Math.floor((within * (DAY_SPAN_MS - 60_000)) / perDay);
  }

  batchesOfDay(day: number): [number, number] {
    const batches = Math.ceil(this.events / BATCH);
    const perDay = Math.ceil(batches / DAYS);
    return [day * perDay, Math.min(batches, (day + 1) * perDay)];
  }
}

async function openStore(repoRoot: string, dataDir: string): Promise<StoreLike> {
  const mod = (await import(pathToFileURL(join(repoRoot, 'packages/server/dist/store/sqlite/sqlite-store.js')).href)) as {
    SqliteStore: new (o: { dataDir: string; readerThreads: number; synchronous: 'normal'; searchIndex: boolean }) => StoreLike;
  };
  return new mod.SqliteStore({ dataDir, readerThreads: 1, synchronous: 'normal', searchIndex: true });
}

/** The cache key: the store's schema texts and this generator's version. */
async function cacheKey(repoRoot: string): Promise<string> {
  const dist = (p: string) => import(pathToFileURL(join(repoRoot, 'packages/server/dist', p)).href);
  const schema = (await dist('store/sqlite/schema.js')) as { SCHEMA: string };
  const day = (await dist('store/sqlite/day-index.js')) as { SUMMARY_SCHEMA: string; SEARCH_SCHEMA: string; DAY_SCHEMA_VERSION: number };
  const reg = (await dist('store/sqlite/registry-db.js')) as { REGISTRY_SCHEMA: string };
  const runs = (await dist('store/sqlite/session-runs.js')) as { SESSION_RUNS_SCHEMA: string };
  const chunks = (await dist('store/sqlite/session-chunks.js')) as { CHUNK_SCHEMA: string };
  const compact = (await dist('store/sqlite/compact-chunks.js')) as { COMPACTED_LAYOUT: number; COMPACT_CHUNK_BYTES: number };
  const indexFile = (await dist('store/sqlite/index-file.js')) as { fileIndexSchema: (start: number) => string };
  const h = createHash('sha256');
  const parts = [
    schema.SCHEMA,
    day.SUMMARY_SCHEMA,
    day.SEARCH_SCHEMA,
    indexFile.fileIndexSchema(1),
    String(day.DAY_SCHEMA_VERSION),
    reg.REGISTRY_SCHEMA,
    runs.SESSION_RUNS_SCHEMA,
    chunks.CHUNK_SCHEMA,
    `${compact.COMPACTED_LAYOUT}:${compact.COMPACT_CHUNK_BYTES}`,
  ];
  for (const part of [...parts, String(GENERATOR_VERSION)]) h.update(part);
  return h.digest('hex').slice(0, 12);
}

function fileSizes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.db')) out[f] = statSync(join(dir, f)).size;
  return out;
}

async function writeDay(repoRoot: string, shape: Shape, day: number, scratch: string, log: (m: string) => void): Promise<void> {
  const store = await openStore(repoRoot, scratch);
  try {
    const [b0, b1] = shape.batchesOfDay(day);
    const inflight = new Set<Promise<unknown>>();
    const t0 = Date.now();
    // Ids as the queue would give them: the batch's time, consecutive seqs, never going back.
    let lastMs = 0;
    let lastSeq = -1;
    for (let b = b0; b < b1; b++) {
      const events: NormalizedEvent[] = [];
      for (let i = b * BATCH; i < Math.min(shape.events, (b + 1) * BATCH); i++) events.push(shape.event(i));
      // Two appends outstanding keep the writer thread busy while the next batch is built.
      while (inflight.size >= 2) await Promise.race(inflight);
      const at = Math.max(shape.batchMs(b), lastMs);
      let seq0 = at === lastMs ? lastSeq + 1 : 0;
      const ms = new Float64Array(events.length).fill(at);
      const seq = Float64Array.from(events, () => seq0++);
      lastMs = at;
      lastSeq = seq0 - 1;
      const p: Promise<unknown> = store.append({ events, ms, seq }).finally(() => inflight.delete(p));
      inflight.add(p);
      if ((b - b0) % 50 === 49) log(`    day ${day + 1}: ${b - b0 + 1}/${b1 - b0} batches, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    await Promise.all(inflight);
    // The index thread follows the commits: the data set is complete once it has caught up.
    while ((store.searchIndexLagRows?.() ?? 0) > 0) await new Promise((r) => setTimeout(r, 50));
    while ((store.sessionChunksLagRows?.() ?? 0) > 0) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await store.close();
  }
}

/**
 * The data set, from the cache or generated now. `events` is rounded to whole batches of 10,000.
 */
export async function queryDataset(repoRoot: string, requested: number, log: (m: string) => void): Promise<QueryDataset> {
  const events = Math.max(BATCH * DAYS, Math.round(requested / BATCH) * BATCH);
  const root = join(tmpdir(), 'logsrv-bench-query');
  const dir = join(root, `${await cacheKey(repoRoot)}-${events}`);
  const meta = join(dir, 'dataset.json');
  if (existsSync(meta)) {
    const ds = JSON.parse(readFileSync(meta, 'utf8')) as QueryDataset;
    if (JSON.stringify(fileSizes(dir)) === JSON.stringify(ds.files)) {
      log(`  data set: ${dir} (cached, ${Object.keys(ds.files).length} files)`);
      return { ...ds, dir, generatedSeconds: null };
    }
    log(`  data set: ${dir} changed since it was generated; generating it again`);
  }
  // Entries of other schemas can never be used again, and are gigabytes each: dropped. Other
  // sizes of this schema stay (a small run does not cost the 10M one).
  const key = dir.slice(root.length + 1).split('-')[0];
  if (existsSync(root)) for (const old of readdirSync(root)) if (!old.startsWith(`${key}-`)) rmSync(join(root, old), { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const shape = new Shape(events);
  log(
    `  data set: generating ${events.toLocaleString('en-US')} events over ${DAYS} days into ${dir} (${shape.sessions} sessions, ${shape.live} live at a time)`,
  );
  const t0 = Date.now();
  const parallel = Math.max(1, Math.min(DAYS, availableParallelism()));
  const days = Array.from({ length: DAYS }, (_, d) => d);
  const scratch = (d: number) => join(dir, `day-${d}`);
  const workers = Array.from({ length: parallel }, async () => {
    for (let d = days.shift(); d !== undefined; d = days.shift()) await writeDay(repoRoot, shape, d, scratch(d), log);
  });
  await Promise.all(workers);
  for (let d = 0; d < DAYS; d++) {
    // The store closed cleanly (WAL checkpointed), but a leftover -wal must travel with its file.
    for (const f of readdirSync(scratch(d))) if (/^events-\d{8}(\.fts|\.sess)?\.db(-wal|-shm)?$/.test(f)) renameSync(join(scratch(d), f), join(dir, f));
    rmSync(scratch(d), { recursive: true, force: true });
  }
  // Registrations: every session to its user and a terminal.
  const reg = await openStore(repoRoot, dir);
  try {
    for (let s = 0; s < shape.sessions; s++) {
      await reg.register(sessionName(s), { user: userOf(s, shape.users), terminal: `tty-${s}` }, FIRST_DAY_MS);
    }
  } finally {
    await reg.close();
  }
  // The days are complete: their session chunks compacted, as a server does when it leaves a day
  // (compact-chunks.ts) — the layout that reads of past days meet.
  const { compactChunkFile } = (await import(pathToFileURL(join(repoRoot, 'packages/server/dist/store/sqlite/compact-chunks.js')).href)) as {
    compactChunkFile(path: string): unknown;
  };
  for (const f of readdirSync(dir).sort()) if (/^events-\d{8}\.sess\.db$/.test(f)) compactChunkFile(join(dir, f));
  const seconds = (Date.now() - t0) / 1000;
  const ds: QueryDataset = {
    dir,
    events,
    sessions: shape.completeSessions().map(sessionName),
    users: Array.from({ length: shape.users }, (_, u) => userOf(u, shape.users)),
    lastMs: shape.batchMs(Math.ceil(events / BATCH) - 1),
    generatedSeconds: seconds,
    files: fileSizes(dir),
  };
  writeFileSync(meta, JSON.stringify(ds, null, 2));
  log(
    `  data set: ${events.toLocaleString('en-US')} events in ${seconds.toFixed(0)} s (${Math.round(events / seconds).toLocaleString('en-US')} events/s through the store, ${parallel} days at a time)`,
  );
  return ds;
}
