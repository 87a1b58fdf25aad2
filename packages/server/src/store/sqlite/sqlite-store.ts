/**
 * The embedded store: SQLite, one file per UTC day, driven from worker threads — one writer, a
 * small pool of readers — so the thread that reads sockets never makes a synchronous SQLite call.
 */
import { mkdirSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { EventId } from '@logsrv/protocol';
import type { IdentifiedBatch } from '../../batch/index.js';
import { packEvents } from '../../batch/index.js';
import type { KeyCount, KeyMinute, LevelMinute, ReportWindow } from '../rollups.js';
import type { RenderedPage, TextFormat } from '../row-text.js';
import type {
  AppendResult,
  ArchivedDayInfo,
  EventPage,
  EventsQuery,
  Registration,
  RegistrationResult,
  RegistryMappings,
  SessionEnd,
  SessionPage,
  SessionQuery,
  SessionSummary,
  SessionsQuery,
  Store,
} from '../store.js';
import { INDEX_CHUNK_ROWS } from './day-index.js';
import { INDEX_BURST_LAG_ROWS, INDEX_MAX_LAG_ROWS, IndexProgress } from './index-file.js';
import { PageSlab } from './page-slab.js';
import { CHUNK_FLUSH_MS } from './session-chunks.js';
import { WorkerClient } from './worker-rpc.js';

export interface SqliteStoreOptions {
  dataDir: string;
  /** Reader threads; reads are spread over them, least busy first. */
  readerThreads: number;
  synchronous: 'normal' | 'full';
  /** Whether new day files get a full-text index (default true; see day-index.ts). */
  searchIndex?: boolean;
  /** Rows per full-text index table (default INDEX_CHUNK_ROWS; see day-index.ts). */
  searchChunkRows?: number;
  /** Whether report rollups are kept (default true; false only to measure what they cost). */
  rollups?: boolean;
  /** Rows the index thread may lag behind the writer before the writer waits (default INDEX_MAX_LAG_ROWS). */
  searchIndexMaxLagRows?: number;
  /** The lag allowed while the queue is pressed (Store.queuePressed; default INDEX_BURST_LAG_ROWS, at least searchIndexMaxLagRows). */
  searchIndexBurstLagRows?: number;
  /** Whether new day files get session chunks (default true; see session-chunks.ts). */
  sessionChunks?: boolean;
  /** Longest time rendered events wait in the chunk thread before they are written (default CHUNK_FLUSH_MS). */
  sessionChunkFlushMs?: number;
  /**
   * When the chunk thread steps aside (session-chunks-worker.ts): the other threads' run-queue wait
   * ratio that counts as contended (default CONTENDED_WAIT_RATIO; 0 always, Infinity never), and
   * the rows it may leave unread meanwhile (default CHUNK_DEFER_MAX_LAG_ROWS). For tests.
   */
  sessionChunkDefer?: { waitRatio?: number; maxLagRows?: number };
}

/**
 * Starts a thread that follows the day files (day-follower.ts: the index thread, the session chunk
 * thread): the writer hints it directly on the returned port (no hop through this thread), and it,
 * the writer and this thread share its progress.
 */
function startFollower(script: string, data: Record<string, unknown>): { client: WorkerClient; progress: IndexProgress; port: MessagePort } {
  const progress = new IndexProgress(new SharedArrayBuffer(IndexProgress.bytes));
  const { port1, port2 } = new MessageChannel();
  const client = new WorkerClient(
    new URL(script, import.meta.url),
    { ...data, progress: progress.buffer, port: port2 },
    // A dead follower must not hold the writer: it stops waiting (searches and pages stay exact).
    { transferList: [port2], onExit: () => progress.markDead() },
  );
  return { client, progress, port: port1 };
}

export class SqliteStore implements Store {
  private readonly writer: WorkerClient;
  private readonly readers: WorkerClient[];
  /** The index thread (index-worker.ts), with the index on. */
  private readonly indexer: WorkerClient | null = null;
  private readonly progress: IndexProgress | null = null;
  /** The session chunk thread (session-chunks-worker.ts), unless chunks are off. */
  private readonly chunker: WorkerClient | null = null;
  private readonly chunkProgress: IndexProgress | null = null;

  private readonly dataDir: string;
  /** Each reader's page slab (page-slab.ts), by the reader's position in `readers`. */
  private readonly slabs: PageSlab[] = [];

  constructor(opts: SqliteStoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.dataDir = opts.dataDir;
    const searchIndex = opts.searchIndex ?? true;
    const searchChunkRows = opts.searchChunkRows ?? INDEX_CHUNK_ROWS;
    let index: { progress: SharedArrayBuffer; port: MessagePort; maxLagRows: number; burstLagRows: number } | null = null;
    if (searchIndex) {
      const maxLagRows = opts.searchIndexMaxLagRows ?? INDEX_MAX_LAG_ROWS;
      const burstLagRows = Math.max(maxLagRows, opts.searchIndexBurstLagRows ?? INDEX_BURST_LAG_ROWS);
      const t = startFollower('./index-worker.js', { dataDir: opts.dataDir, synchronous: opts.synchronous, searchChunkRows, maxLagRows, burstLagRows });
      this.indexer = t.client;
      this.progress = t.progress;
      index = { progress: t.progress.buffer, port: t.port, maxLagRows, burstLagRows };
    }
    let chunks: { progress: SharedArrayBuffer; port: MessagePort } | null = null;
    if (opts.sessionChunks ?? true) {
      const flushMs = opts.sessionChunkFlushMs ?? CHUNK_FLUSH_MS;
      const t = startFollower('./session-chunks-worker.js', {
        dataDir: opts.dataDir,
        synchronous: opts.synchronous,
        flushMs,
        deferWaitRatio: opts.sessionChunkDefer?.waitRatio,
        deferMaxLagRows: opts.sessionChunkDefer?.maxLagRows,
      });
      this.chunker = t.client;
      this.chunkProgress = t.progress;
      chunks = { progress: t.progress.buffer, port: t.port };
    }
    const ports = [...(index ? [index.port] : []), ...(chunks ? [chunks.port] : [])];
    this.writer = new WorkerClient(
      new URL('./writer-worker.js', import.meta.url),
      { dataDir: opts.dataDir, synchronous: opts.synchronous, searchIndex, searchChunkRows, rollups: opts.rollups ?? true, index, chunks },
      { transferList: ports },
    );
    this.readers = [];
    for (let i = 0; i < Math.max(1, opts.readerThreads); i++) {
      const slab = PageSlab.create();
      this.slabs.push(slab);
      this.readers.push(new WorkerClient(new URL('./reader-worker.js', import.meta.url), { dataDir: opts.dataDir, slab: slab.buffer }));
    }
  }

  /** Archiving copies and compresses whole files: a thread of its own, so writes and reads go on. */
  archive(before: string, today: string): Promise<ArchivedDayInfo[]> {
    const worker = new Worker(new URL('./archive-worker.js', import.meta.url), { workerData: { dataDir: this.dataDir, before, today } });
    return new Promise((resolve, reject) => {
      worker.once('message', (m: { ok: true; days: ArchivedDayInfo[] } | { ok: false; error: string }) => {
        if (m.ok) resolve(m.days);
        else reject(new Error(m.error));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`archive worker exited with code ${code}`)));
    });
  }

  append(batch: IdentifiedBatch): Promise<AppendResult> {
    return this.writer.call<AppendResult>({ op: 'append', events: batch.packed ?? packEvents(batch.events), ms: batch.ms, seq: batch.seq });
  }

  /** The writer thread reads it while it waits for the index, the index thread before each step. */
  queuePressed(pressed: boolean): void {
    this.progress?.setPressed(pressed);
  }

  /** Rows of the current day committed but not yet in its full-text index (0 with the index off). */
  searchIndexLagRows(): number {
    return this.progress?.lag() ?? 0;
  }

  /** Seconds the writer thread has waited for the index to come within its lag bound (0 with the index off). */
  searchIndexWaitSeconds(): number {
    return this.progress?.waitedSeconds() ?? 0;
  }

  /** Rows of the current day committed but not yet in its session chunks (0 with chunks off). */
  sessionChunksLagRows(): number {
    return this.chunkProgress?.lag() ?? 0;
  }

  lastId(): Promise<EventId | null> {
    return this.writer.call<EventId | null>({ op: 'lastId' });
  }

  readSession(q: SessionQuery): Promise<EventPage> {
    return this.reader().call<EventPage>({ op: 'readSession', q });
  }

  readEvents(q: EventsQuery): Promise<EventPage> {
    return this.reader().call<EventPage>({ op: 'readEvents', q });
  }

  async renderSession(q: SessionQuery, format: TextFormat): Promise<RenderedPage> {
    const reader = this.reader();
    const page = await reader.call<RenderedPage>({ op: 'renderSession', q, format });
    const b = page.body as string | Uint8Array[] | { slot: number; length: number };
    if (typeof b === 'string') return page;
    if (Array.isArray(b)) {
      // Parts moved from the reader arrive as plain Uint8Arrays: viewed as Buffers, not copied.
      page.body = b.map((u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength));
      return page;
    }
    // In the reader's slab: lent until the caller has written it.
    const slab = this.slabs[this.readers.indexOf(reader)] as PageSlab;
    page.body = [slab.view(b.slot, b.length)];
    let released = false;
    page.release = () => {
      if (released) return;
      released = true;
      slab.release(b.slot);
    };
    return page;
  }

  renderEvents(q: EventsQuery, format: TextFormat): Promise<RenderedPage> {
    return this.reader().call<RenderedPage>({ op: 'renderEvents', q, format });
  }

  sessionEnd(session: string, after: EventId | null, until: EventId | null): Promise<SessionEnd> {
    return this.reader().call<SessionEnd>({ op: 'sessionEnd', session, after, until });
  }

  listSessions(q: SessionsQuery): Promise<SessionPage> {
    return this.reader().call<SessionPage>({ op: 'listSessions', q });
  }

  sessionSummary(session: string): Promise<SessionSummary | null> {
    return this.reader().call<SessionSummary | null>({ op: 'sessionSummary', session });
  }

  register(session: string, registration: Registration, nowMs: number): Promise<RegistrationResult> {
    return this.writer.call<RegistrationResult>({ op: 'register', session, registration, nowMs });
  }

  registryMappings(): Promise<RegistryMappings> {
    return this.writer.call<RegistryMappings>({ op: 'registryMappings' });
  }

  reportLevels(w: ReportWindow): Promise<LevelMinute[]> {
    return this.reader().call<LevelMinute[]>({ op: 'reportLevels', w });
  }

  reportKeys(w: ReportWindow, limit: number): Promise<KeyCount[]> {
    return this.reader().call<KeyCount[]>({ op: 'reportKeys', w, limit });
  }

  reportKeyMinutes(w: ReportWindow, key: string): Promise<KeyMinute[]> {
    return this.reader().call<KeyMinute[]>({ op: 'reportKeyMinutes', w, key });
  }

  async close(): Promise<void> {
    // The index thread stops first: after it the writer waits for nobody.
    if (this.indexer) await Promise.allSettled([this.indexer.call({ op: 'close' })]);
    this.progress?.markDead();
    if (this.chunker) await Promise.allSettled([this.chunker.call({ op: 'close' })]);
    this.chunkProgress?.markDead();
    const all = [this.writer, ...this.readers];
    await Promise.allSettled(all.map((w) => w.call({ op: 'close' })));
    await Promise.all([...all, ...(this.indexer ? [this.indexer] : []), ...(this.chunker ? [this.chunker] : [])].map((w) => w.terminate()));
  }

  private reader(): WorkerClient {
    let best = this.readers[0] as WorkerClient;
    for (const r of this.readers) if (r.inFlight < best.inFlight) best = r;
    return best;
  }
}
