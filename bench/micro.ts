/**
 * `micro`: the hot steps of the embedded pipeline, one at a time, in this process, in seconds —
 * so a change to one step can be judged without a full ingest run. Every figure is the CPU time
 * of this process per event (µs CPU/event, lower is better; see cpuUs) on the ingest workload's
 * realistic events (~200 B NDJSON, one in five structured; bench/lib/ndjson-workload.ts), each
 * beside a baseline timed in the same repetition (interleaved, so both see the same machine):
 *
 * 1. ingest: LineSplitter (64 KiB chunks, as bodies arrive) + JSON.parse + validate/normalize
 *    (ingest/accept.ts, what `POST /v1/events` runs per line) vs Buffer.toString + split +
 *    JSON.parse alone; split only and validate only are shown on their own too.
 * 2. thread hop: packEvents → structured clone (what postMessage does) → unpackToColumns vs
 *    cloning the event objects; and pack + unpack alone.
 * 3. SQLite: the writer's unpack and INSERT of a 1000-event batch in one transaction, plus the day index
 *    (store/sqlite/day-index.ts: summaries, rollups, and the full-text index as day files of schema
 *    3 hold it), vs the bare INSERT into the server's schema; also without the full-text index
 *    (what the writer does now that it is in a file of its own, and with `--search-index off`)
 *    and with summaries only, so each part's share is visible. The index thread's share
 *    (store/sqlite/index-file.ts: 1000 rows per step into the day's index file) on its own, and
 *    the session chunk thread's (store/sqlite/session-chunks.ts: 1000 rows per step rendered into
 *    per-session chunks).
 * 4. render: a 1000-event page as json / ndjson / text (store/row-text.ts renderPage) and html
 *    (query/render.ts) vs JSON.stringify of the events.
 * 5. live fan-out: tail/hub.ts TailHub fed commits of 1000 events, its clients real SSE responses
 *    of a loopback HTTP server read by real sockets; a commit is timed until every client has read
 *    all its bytes. Baseline: the same bytes, prebuilt, written to the same sockets.
 *
 * 6. agent: `logsrv run`'s pipe reads (64 KiB of 100 B lines) to NDJSON request bytes —
 *    output-lines.ts's byte path + output-events.ts — vs what it did before: a string per line
 *    (StringDecoder, JSON.stringify, template), joined into a body and encoded as UTF-8.
 *
 * Knobs (env): BENCH_REPS; BENCH_MICRO_MS (length of one timed sample, default 300);
 * BENCH_MICRO_CLIENTS (fan-out clients, default 100). BENCH_SECONDS is not used: the whole run
 * takes about 30 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { NormalizedEvent, StoredEvent } from '@logsrv/protocol';
import Database from 'better-sqlite3';
import { EventWriter } from '../packages/cli/dist/output-events.js';
import { OutputLines } from '../packages/cli/dist/output-lines.js';
import type { EventColumns, PackedEvents } from '../packages/server/dist/batch/columns.js';
import { packEvents, unpackToColumns } from '../packages/server/dist/batch/columns.js';
import { type Accepted, acceptLine, acceptValue, isRejection } from '../packages/server/dist/ingest/accept.js';
import { LineSplitter } from '../packages/server/dist/ingest/split-lines.js';
import { renderHtml } from '../packages/server/dist/query/render.js';
import { LocalCommitFeed } from '../packages/server/dist/queue/commit-feed.js';
import { renderPage } from '../packages/server/dist/store/row-text.js';
import { committedEventJson, committedToEvent } from '../packages/server/dist/store/rows.js';
import { ensureDayTables, INDEX_CHUNK_ROWS, prepareDayIndex, searchSchema } from '../packages/server/dist/store/sqlite/day-index.js';
import { createIndexFile, IndexFollower } from '../packages/server/dist/store/sqlite/index-file.js';
import { applyPragmas, prepareEventInsert, SCHEMA } from '../packages/server/dist/store/sqlite/schema.js';
import { createChunkFile, SessionChunker } from '../packages/server/dist/store/sqlite/session-chunks.js';
import { TailHub } from '../packages/server/dist/tail/hub.js';
import { eventFrame, PREAMBLE, SSE_HEADERS } from '../packages/server/dist/tail/sse.js';
import { envNumber } from './lib/env.ts';
import { createRng, makeBody, stamp } from './lib/ndjson-workload.ts';
import { fmt, measurement } from './lib/stats.ts';
import type { BenchContext, Benchmark, BenchReport, Figure, Measurement } from './lib/types.ts';

const BATCH = 1000;
/** Distinct 1000-event batches made before timing; a sample cycles through them. */
const POOL = 40;
const CHUNK = 64 * 1024;
const MAX_LINE = 1024 * 1024;

interface Batch {
  body: Buffer;
  lines: string[];
  parsed: unknown[];
  events: NormalizedEvent[];
  ms: Float64Array;
  seq: Float64Array;
}

function makePool(): Batch[] {
  const rng = createRng(14);
  const pool: Batch[] = [];
  let clockMs = Date.now();
  let lineNo = 0;
  for (let b = 0; b < POOL; b++) {
    const t = makeBody(BATCH, rng, 'micro', clockMs);
    stamp(t, lineNo);
    lineNo += BATCH;
    const body = Buffer.from(t.buf); // the template is rewritten by the next stamp: keep a copy
    const lines = body
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    const events = lines.map((l) => {
      const a = acceptLine(l);
      if (isRejection(a)) throw new Error(`workload line rejected: ${a.error}`);
      return a;
    });
    const ms = new Float64Array(BATCH);
    const seq = new Float64Array(BATCH);
    clockMs += 1;
    for (let i = 0; i < BATCH; i++) {
      ms[i] = clockMs;
      seq[i] = i;
    }
    pool.push({ body, lines, parsed: lines.map((l) => JSON.parse(l) as unknown), events, ms, seq });
  }
  return pool;
}

/** A step: does the work of one batch (index into the pool); returns events processed. */
type Step = (b: Batch, i: number) => number;
interface Case {
  label: string;
  step: Step;
}

/** Runs `step` over the pool for about `ms`; µs per event. */
function sample(pool: Batch[], step: Step, ms: number, from: { next: number }): number {
  const budget = ms * 1e6;
  let events = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  do {
    const i = from.next++;
    events += step(pool[i % pool.length] as Batch, i);
  } while (Number(process.hrtime.bigint() - t0) < budget);
  return cpuUs(cpu0) / events;
}

/**
 * CPU time (user + system, all threads of this process: V8's GC helpers and the kernel's socket
 * work included) since `from`, in µs. CPU time, not wall time: on this shared machine a thread
 * waiting for a core would otherwise count as work.
 */
function cpuUs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

/** Figure and baseline sampled alternately, `reps` times each, after one untimed warm-up pass. */
function pair(pool: Batch[], reps: number, ms: number, c: string, fig: Case, base: Case | null): Figure {
  const a = { next: 0 };
  const b = { next: 0 };
  sample(pool, fig.step, Math.min(100, ms), a);
  if (base) sample(pool, base.step, Math.min(100, ms), b);
  const runs: number[] = [];
  const baseRuns: number[] = [];
  for (let r = 0; r < reps; r++) {
    runs.push(sample(pool, fig.step, ms, a));
    if (base) baseRuns.push(sample(pool, base.step, ms, b));
  }
  return figure(c, measurement(fig.label, 'µs CPU/event', runs), base ? measurement(base.label, 'µs CPU/event', baseRuns) : undefined);
}

function figure(c: string, m: Measurement, baseline?: Measurement): Figure {
  const f: Figure = { case: c, ...m };
  if (baseline) {
    f.baseline = baseline;
    f.ratio = m.median / baseline.median;
  }
  return f;
}

// ---- 1. split + parse + validate ----------------------------------------------------------------

function ingestSteps(): { full: Step; split: Step; validate: Step; parse: Step } {
  let sink: Accepted[] = [];
  let count = 0;
  const splitter = (accept: boolean) =>
    new LineSplitter(MAX_LINE, (_index, text, error) => {
      if (error) throw new Error(error.error);
      const t = text as string;
      if (t.length === 0 || t.trim().length === 0) return;
      if (accept) sink.push(acceptLine(t));
      else count += t.length;
    });
  const feed = (s: LineSplitter, body: Buffer) => {
    for (let at = 0; at < body.length; at += CHUNK) s.push(body.subarray(at, at + CHUNK));
    s.end();
  };
  return {
    full: (b) => {
      sink = [];
      feed(splitter(true), b.body);
      if (sink.length !== BATCH) throw new Error(`split + accept gave ${sink.length} events, not ${BATCH}`);
      return sink.length;
    },
    split: (b) => {
      const before = count;
      const s = splitter(false);
      feed(s, b.body);
      if (count === before) throw new Error('split gave no text');
      return s.lines - 1; // the body ends with a newline: one empty last line
    },
    validate: (b) => {
      let n = 0;
      for (const v of b.parsed) if (!isRejection(acceptValue(v))) n++;
      return n;
    },
    parse: (b) => {
      const lines = b.body.toString('utf8').split('\n');
      let n = 0;
      for (const l of lines) if (l.length > 0 && JSON.parse(l) !== null) n++;
      return n;
    },
  };
}

// ---- 3. SQLite insert with / without the day index ----------------------------------------------

interface Writer {
  step: Step;
  close(): void;
}

/**
 * A day file as the writer thread opens one. `index`: 'none' (bare insert), 'summaries' (search and
 * rollups off), 'rollups' (search off, `--search-index off`), 'search' (the default: all of it).
 */
function openWriter(dir: string, name: string, index: 'none' | 'summaries' | 'rollups' | 'search', packed: PackedEvents[], perRow = false): Writer {
  const file = join(dir, `${name}.db`);
  const db = new Database(file);
  applyPragmas(db, 'normal');
  db.exec(SCHEMA);
  if (index !== 'none') ensureDayTables(db, index === 'search');
  // 'search': the index inside the day file, written in the commit (day schema 3, and the files
  // of that schema still written to); new days have theirs in a file of their own (indexThread).
  if (index === 'search') db.exec(searchSchema(1));
  const day = index === 'none' ? null : prepareDayIndex(db, undefined, index !== 'summaries');
  // `perRow`: one row per INSERT statement, as the writer did before 2026-12-06.
  const insert = prepareEventInsert(db, perRow ? 1 : undefined);
  // Ids keep increasing over the run, as the writer's do.
  let lastMs = 0;
  const ms = new Float64Array(BATCH);
  const seq = new Float64Array(BATCH);
  const all = Array.from({ length: BATCH }, (_, i) => i);
  const insertMany = db.transaction((c: EventColumns) => {
    const rows = c.n === BATCH ? all : all.slice(0, c.n);
    const firstRowid = insert(c, ms, seq, rows) - rows.length + 1;
    day?.apply({ c, ms, seq, from: 0, to: c.n }, undefined, firstRowid);
  });
  return {
    step: (_b, i) => {
      // Unpacked in each step, as the writer thread does with each batch it receives: its strings
      // are new ones, whose hashes the summaries and rollups compute (columns unpacked once and
      // reused had them cached, which hid that cost until 2026-12-07).
      const c = unpackToColumns(packed[i % packed.length] as PackedEvents);
      lastMs = Math.max(Date.now(), lastMs + 1);
      ms.fill(lastMs);
      for (let k = 0; k < BATCH; k++) seq[k] = k;
      insertMany(c);
      day?.committed();
      return c.n;
    },
    close: () => db.close(),
  };
}

/**
 * The index thread's work (store/sqlite/index-file.ts IndexFollower.step): 1000 rows of a day file
 * per step, read through ATTACH and tokenized into the day's index file. The day file is filled
 * beforehand by `source` (`rows` rows); when the index reaches its end it starts over in a fresh
 * index file (rare: the file holds many samples' worth of rows).
 */
function indexThread(dir: string, source: Writer, rows: number): Writer {
  for (let i = 0; i < rows / BATCH; i++) source.step(undefined as unknown as Batch, i);
  const dayPath = join(dir, 'source.db');
  let n = 0;
  let f: IndexFollower | null = null;
  const fresh = () => {
    f?.close();
    const path = join(dir, `index-${n++}.fts.db`);
    createIndexFile(path, 'normal');
    f = new IndexFollower(path, dayPath, 'normal', INDEX_CHUNK_ROWS);
    return f;
  };
  let cur = fresh();
  return {
    step: () => {
      let from = cur.watermark();
      let to = cur.step(BATCH);
      if (to === from) {
        cur = fresh();
        from = 0;
        to = cur.step(BATCH);
      }
      return to - from;
    },
    close: () => {
      f?.close();
      source.close();
    },
  };
}

/**
 * The session chunk thread's work (store/sqlite/session-chunks.ts SessionChunker.step): 1000 rows
 * of a day file per step rendered to JSON into per-session buffers, written as chunks whenever the
 * buffers are full (CHUNK_BUFFER_BYTES), as the thread does. Starts over in a fresh chunk file at
 * the end of the day file, like indexThread.
 */
function chunkThread(dir: string, dayPath: string): Writer {
  let n = 0;
  let c: SessionChunker | null = null;
  const fresh = () => {
    c?.close();
    const path = join(dir, `chunks-${n++}.sess.db`);
    createChunkFile(path, 'normal');
    c = new SessionChunker(path, dayPath, 'normal');
    return c;
  };
  let cur = fresh();
  return {
    step: () => {
      let from = cur.readTo();
      let to = cur.step(BATCH);
      if (to === from) {
        cur = fresh();
        from = 0;
        to = cur.step(BATCH);
      }
      return to - from;
    },
    close: () => c?.close(),
  };
}

// ---- 5. hub fan-out over real sockets -----------------------------------------------------------

interface FanOut {
  /** Emits one commit to the hub; resolves when every client has read all of its bytes. */
  hubCommit(b: Batch): Promise<void>;
  /** Writes the same bytes to the same sockets directly; resolves likewise. */
  rawCommit(bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

async function openFanOut(clients: number): Promise<FanOut> {
  const feed = new LocalCommitFeed();
  const hub = new TailHub({ maxClients: clients + 1, clientBufferBytes: 256 * 1024 * 1024, heartbeatMs: 3_600_000, lastId: null, feed });
  const sockets: import('node:net').Socket[] = [];
  const server = http.createServer((req, res) => {
    // As tail-route.ts opens a tail: unchunked SSE response, preamble, attach, live.
    res.useChunkedEncodingByDefault = false;
    res.writeHead(200, SSE_HEADERS);
    res.write(PREAMBLE);
    const { client } = hub.attach({}, res, 'now');
    client.goLive(null);
    if (res.socket) sockets.push(res.socket);
    req.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let want = 0;
  let waiting = 0;
  let wake: (() => void) | null = null;
  const received: number[] = new Array(clients).fill(0);
  const requests: http.ClientRequest[] = [];
  await Promise.all(
    Array.from(
      { length: clients },
      (_, k) =>
        new Promise<void>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
            let ready = false;
            res.on('data', (d: Buffer) => {
              if (!ready) {
                ready = true;
                resolve();
                return; // the preamble
              }
              const before = received[k] as number;
              received[k] = before + d.length;
              if (before < want && before + d.length >= want && --waiting === 0) wake?.();
            });
          });
          req.on('error', reject);
          requests.push(req);
        }),
    ),
  );
  // Connections opened; the server handler may still be attaching the last ones.
  while (hub.clientCount < clients) await new Promise((r) => setImmediate(r));
  const settle = (bytes: number, send: () => void): Promise<void> =>
    new Promise((resolve) => {
      expected += bytes;
      want = (received[0] as number) + bytes;
      if (received.some((x) => x !== received[0])) throw new Error('clients out of step');
      waiting = clients;
      wake = resolve;
      send();
    });
  let expected = 0;
  const frameBytes = new Map<Batch, number>();
  return {
    hubCommit: (b) => {
      let bytes = frameBytes.get(b);
      if (bytes === undefined) {
        bytes = Buffer.byteLength(framesOf(b));
        frameBytes.set(b, bytes);
      }
      return settle(bytes, () => feed.emit({ entries: [], stored: { events: b.events, ms: b.ms, seq: b.seq }, shard: 0 }));
    },
    rawCommit: (bytes) =>
      settle(bytes.length, () => {
        for (const s of sockets) s.write(bytes);
      }),
    close: async () => {
      // Every client read exactly the frames the hub was expected to make, nothing more or less.
      await new Promise((r) => setTimeout(r, 50));
      const wrong = received.filter((x) => x !== expected).length;
      for (const r of requests) r.destroy();
      await hub.close();
      await new Promise<void>((r) => server.close(() => r()));
      if (wrong > 0) throw new Error(`${wrong} of ${clients} clients read other than the ${expected} bytes sent`);
    },
  };
}

/** The SSE frames of a batch, as the hub makes them (the baseline's prebuilt bytes). */
function framesOf(b: Batch): string {
  let s = '';
  for (let i = 0; i < b.events.length; i++) {
    const ms = b.ms[i] as number;
    const seq = b.seq[i] as number;
    s += eventFrame(`${ms}-${seq}`, committedEventJson(b.events[i] as NormalizedEvent, ms, seq));
  }
  return s;
}

/** The same frames through the event object, as the hub made them before committedEventJson. */
function framesViaObject(b: Batch): string {
  let s = '';
  for (let i = 0; i < b.events.length; i++) {
    const ms = b.ms[i] as number;
    const seq = b.seq[i] as number;
    s += eventFrame(`${ms}-${seq}`, JSON.stringify(committedToEvent(b.events[i] as NormalizedEvent, ms, seq)));
  }
  return s;
}

async function sampleAsync(pool: Batch[], step: (b: Batch) => Promise<void>, ms: number, from: { next: number }): Promise<number> {
  const budget = ms * 1e6;
  let events = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  do {
    const b = pool[from.next++ % pool.length] as Batch;
    await step(b);
    events += b.events.length;
  } while (Number(process.hrtime.bigint() - t0) < budget);
  return cpuUs(cpu0) / events;
}

// ---- 6. agent: pipe reads → NDJSON ------------------------------------------------------------

/** Steps over 64 KiB reads of 1000 lines of 100 B each (as bench/workers/bulk-writer.mjs prints them). */
function agentSteps(): { bytes: Step; strings: Step } {
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(3);
  const reads: Buffer[] = [];
  for (let r = 0; r < POOL; r++) {
    let text = '';
    for (let i = 0; i < BATCH; i++) {
      const head = `line ${r * BATCH + i} `;
      text += `${head}${filler.slice(0, 99 - head.length)}\n`;
    }
    reads.push(Buffer.from(text));
  }
  const baseAndKey = '{"session":"overhead-0","key":"stdout"';
  const producer = JSON.stringify('host-12345-0123456789ab');
  let seq = 0;
  const sender = {
    get nextSeq() {
      return seq;
    },
    // Lets go of every block at once, like a sender whose server keeps up.
    get heldFromSeq() {
      return seq;
    },
    sendStamped(b: Buffer, n: number) {
      seq += n;
      if (b.length === 0) throw new Error('empty block');
    },
  };
  const writer = new EventWriter(sender);
  let head: Buffer = Buffer.alloc(0);
  const lines = new OutputLines(
    MAX_LINE,
    (t, end) => writer.text(head, t, end),
    (buf, start, end) => writer.line(head, buf, start, end),
  );
  const bytes: Step = (_b, i) => {
    head = EventWriter.head(baseAndKey, 1_733_000_000_000 + i, producer);
    lines.push(reads[i % POOL] as Buffer);
    writer.flush();
    return BATCH;
  };
  // Before: a string per line, joined into ~256 KiB bodies, encoded to UTF-8 for the socket.
  const decoder = new StringDecoder('utf8');
  const prefix = `${baseAndKey},"value":`;
  let mem: string[] = [];
  let memBytes = 0;
  let sink = 0;
  const strings: Step = (_b, i) => {
    const ts = 1_733_000_000_000 + i;
    const text = decoder.write(reads[i % POOL] as Buffer);
    let from = 0;
    for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', from)) {
      const json = `${prefix}${JSON.stringify(text.slice(from, lf))},"ts":${ts}}`;
      const line = `${json.slice(0, -1)},"producer":${producer},"seq":${seq++}}`;
      mem.push(line);
      memBytes += line.length + 1;
      if (memBytes >= 256 * 1024) {
        const body = `${mem.join('\n')}\n`;
        sink += Buffer.byteLength(body) + Buffer.from(body).length;
        mem = [];
        memBytes = 0;
      }
      from = lf + 1;
    }
    return sink >= 0 ? BATCH : 0;
  };
  return { bytes, strings };
}

// ---- the benchmark ------------------------------------------------------------------------------

export const micro: Benchmark = {
  name: 'micro',
  description:
    'hot steps of the embedded pipeline in-process, µs CPU/event: split+validate, pack, insert, index, render, hub fan-out — each vs a bare baseline',
  async run(ctx: BenchContext): Promise<BenchReport> {
    const ms = envNumber('BENCH_MICRO_MS', 300, 20);
    const clients = Math.round(envNumber('BENCH_MICRO_CLIENTS', 100, 1));
    const reps = ctx.reps;
    const t0 = Date.now();
    const pool = makePool();
    const bodyBytes = pool.reduce((s, b) => s + b.body.length, 0) / (POOL * BATCH);
    ctx.log(`micro: ${POOL} batches × ${BATCH} events, ${bodyBytes.toFixed(0)} B/line, ${ms} ms per sample × ${reps}`);
    const figures: Figure[] = [];
    const log = (f: Figure) => {
      figures.push(f);
      const base = f.baseline ? ` vs ${fmt(f.baseline.median)} (${f.baseline.label}) = ${f.ratio?.toFixed(2)}×` : '';
      ctx.log(`  ${f.case}: ${f.label} ${fmt(f.median)} µs CPU/event${base}`);
    };

    // 1. ingest
    const ing = ingestSteps();
    const parseOnly = { label: 'toString + split + JSON.parse', step: ing.parse };
    log(pair(pool, reps, ms, '1 ingest (HTTP NDJSON)', { label: 'split + parse + validate', step: ing.full }, parseOnly));
    log(pair(pool, reps, ms, '1 ingest (HTTP NDJSON)', { label: 'LineSplitter only', step: ing.split }, parseOnly));
    log(pair(pool, reps, ms, '1 ingest (HTTP NDJSON)', { label: 'validate + normalize only', step: ing.validate }, parseOnly));

    // 2. thread hop
    log(
      pair(
        pool,
        reps,
        ms,
        '2 thread hop',
        { label: 'pack → clone → unpackToColumns', step: (b) => unpackToColumns(structuredClone(packEvents(b.events))).n },
        { label: 'clone the event objects', step: (b) => structuredClone(b.events).length },
      ),
    );
    log(pair(pool, reps, ms, '2 thread hop', { label: 'packEvents + unpackToColumns', step: (b) => unpackToColumns(packEvents(b.events)).n }, null));

    // 3. SQLite
    const dir = mkdtempSync(join(tmpdir(), 'logsrv-micro-'));
    const packed = pool.map((b) => packEvents(b.events));
    const bare = openWriter(dir, 'bare', 'none', packed);
    const perRow = openWriter(dir, 'per-row', 'none', packed, true);
    const summaries = openWriter(dir, 'summaries', 'summaries', packed);
    const rollups = openWriter(dir, 'rollups', 'rollups', packed);
    const search = openWriter(dir, 'search', 'search', packed);
    const indexer = indexThread(dir, openWriter(dir, 'source', 'none', packed), 400_000);
    const chunker = chunkThread(dir, join(dir, 'source.db'));
    try {
      const bareStep = { label: 'bare INSERT, 1000 rows/txn', step: bare.step };
      log(
        pair(
          pool,
          reps,
          ms,
          '3 SQLite writer',
          { label: 'INSERT + day index (summaries, rollups, FTS in the day file: schema 3)', step: search.step },
          bareStep,
        ),
      );
      log(pair(pool, reps, ms, '3 SQLite writer', { label: 'INSERT + summaries, rollups (FTS in its own file, or search off)', step: rollups.step }, bareStep));
      log(pair(pool, reps, ms, '3 SQLite writer', bareStep, { label: 'bare INSERT, a row per statement', step: perRow.step }));
      log(pair(pool, reps, ms, '3 SQLite index thread', { label: 'IndexFollower.step: 1000 rows into the index file', step: indexer.step }, bareStep));
      log(pair(pool, reps, ms, '3 SQLite chunk thread', { label: 'SessionChunker.step: 1000 rows into session chunks', step: chunker.step }, bareStep));
      log(pair(pool, reps, ms, '3 SQLite writer', { label: 'INSERT + summaries (search, rollups off)', step: summaries.step }, bareStep));
    } finally {
      bare.close();
      perRow.close();
      summaries.close();
      rollups.close();
      search.close();
      indexer.close();
      chunker.close();
      rmSync(dir, { recursive: true, force: true });
    }

    // 4. render
    const pages: StoredEvent[][] = pool.map((b) => b.events.map((e, i) => committedToEvent(e, b.ms[i] as number, b.seq[i] as number)));
    const pageOf = (i: number) => pages[i % pages.length] as StoredEvent[];
    const stringify = { label: 'JSON.stringify(events)', step: (_b: Batch, i: number) => (JSON.stringify(pageOf(i)).length > 0 ? BATCH : 0) };
    for (const format of ['json', 'ndjson', 'text'] as const) {
      const opts = format === 'text' ? { joined: true } : undefined;
      log(
        pair(
          pool,
          reps,
          ms,
          '4 render a page',
          { label: `renderPage ${format}`, step: (_b, i) => renderPage(pageOf(i), null, format, undefined, opts).count },
          stringify,
        ),
      );
    }
    log(
      pair(pool, reps, ms, '4 render a page', { label: 'renderHtml', step: (_b, i) => (renderHtml('s', pageOf(i), null).length > 0 ? BATCH : 0) }, stringify),
    );

    // 5. fan-out: what the hub does once per event, then the whole fan-out over sockets
    const stringifyEach: Case = { label: 'JSON.stringify(event) each', step: (b) => b.events.reduce((n, e) => n + (JSON.stringify(e).length > 0 ? 1 : 0), 0) };
    log(
      pair(
        pool,
        reps,
        ms,
        '5 hub fan-out',
        { label: 'SSE frames (committedEventJson + frame)', step: (b) => (framesOf(b).length > 0 ? BATCH : 0) },
        stringifyEach,
      ),
    );
    log(
      pair(
        pool,
        reps,
        ms,
        '5 hub fan-out',
        { label: 'SSE frames via the object (committedToEvent + stringify + frame)', step: (b) => (framesViaObject(b).length > 0 ? BATCH : 0) },
        stringifyEach,
      ),
    );
    const fan = await openFanOut(clients);
    try {
      const raw = new Map<Batch, Buffer>(pool.map((b) => [b, Buffer.from(framesOf(b))]));
      const a = { next: 0 };
      const z = { next: 0 };
      const rawStep = (b: Batch) => fan.rawCommit(raw.get(b) as Buffer);
      await sampleAsync(pool, fan.hubCommit, Math.min(100, ms), a);
      await sampleAsync(pool, rawStep, Math.min(100, ms), z);
      const hubRuns: number[] = [];
      const rawRuns: number[] = [];
      for (let r = 0; r < reps; r++) {
        hubRuns.push(await sampleAsync(pool, fan.hubCommit, ms, a));
        rawRuns.push(await sampleAsync(pool, rawStep, ms, z));
      }
      log(
        figure(
          `5 hub fan-out, ${clients} clients`,
          measurement('commit → read by every client', 'µs CPU/event', hubRuns),
          measurement('same bytes prebuilt, written to the sockets', 'µs CPU/event', rawRuns),
        ),
      );
    } finally {
      await fan.close();
    }

    // 6. agent
    const agent = agentSteps();
    log(
      pair(
        pool,
        reps,
        ms,
        '6 agent (logsrv run)',
        { label: 'pipe reads → NDJSON bytes (byte path)', step: agent.bytes },
        { label: 'string per line, joined, UTF-8 encoded', step: agent.strings },
      ),
    );

    const get = (c: string, label: string) => figures.find((f) => f.case.startsWith(c) && f.label === label);
    const full = get('1', 'split + parse + validate');
    const hop = get('2', 'pack → clone → unpackToColumns');
    const all = get('3', 'INSERT + day index (summaries, rollups, FTS)');
    const noSearch = get('3', 'INSERT + summaries, rollups (search off)');
    const onlySummaries = get('3', 'INSERT + summaries (search, rollups off)');
    const notes: string[] = [];
    if (full && hop && all?.baseline && noSearch && onlySummaries?.baseline) {
      // Shares of the day index from differences of medians: indicative, each is a difference of noisy figures.
      const bareUs = all.baseline.median;
      const parts: [string, number][] = [
        ['split + parse + validate (main thread)', full.median],
        ['pack → clone → unpack (both threads)', hop.median],
        ['bare INSERT (writer thread)', bareUs],
        ['session summaries (writer)', onlySummaries.median - onlySummaries.baseline.median],
        ['report rollups (writer)', noSearch.median - onlySummaries.median],
        ['full-text index (writer)', all.median - noSearch.median],
      ];
      const ingestUs = full.median + hop.median + all.median;
      parts.sort((x, y) => y[1] - x[1]);
      notes.push(
        `Embedded ingest, CPU per event summed over its steps: ${fmt(ingestUs)} µs/event (≈ ${fmt(1e6 / ingestUs)} events/s if on one core; ` +
          `writer thread alone ${fmt(all.median)} µs/event ≈ ${fmt(1e6 / all.median)} events/s) — ` +
          parts.map(([n, v]) => `${n} ${fmt(v)} µs (${((100 * v) / ingestUs).toFixed(0)} %)`).join(', ') +
          '. Index shares are differences of medians. HTTP, the queue and thread scheduling are not included.',
      );
    }
    notes.push(`Whole micro run: ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
    return {
      figures,
      notes,
      params: {
        batchEvents: BATCH,
        poolBatches: POOL,
        meanLineBytes: Math.round(bodyBytes),
        sampleMs: ms,
        clients,
        chunkBytes: CHUNK,
        sqliteSynchronous: 'normal',
      },
    };
  },
};
