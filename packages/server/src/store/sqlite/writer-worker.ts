/**
 * The SQLite writer thread. It owns every write connection; the receiving thread never touches
 * SQLite. Messages are handled one at a time, so batches commit in the order they were sent.
 */
import { mkdirSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { dayOf } from '@logsrv/protocol';
import Database from 'better-sqlite3';
import type { EventColumns, PackedEvents } from '../../batch/index.js';
import { unpackToColumns } from '../../batch/index.js';
import { nameThisThread } from '../../thread-name.js';
import type { Registration } from '../store.js';
import { DelayedHint } from './day-follower.js';
import { CHUNK_NAMES_SQL, ensureDayTables, prepareDayIndex } from './day-index.js';
import { createIndexFile, hasIndexFile, IndexProgress, indexFile } from './index-file.js';
import { MAX_MARKS, ProducerMarks } from './producer-marks.js';
import { RegistryDb } from './registry-db.js';
import { applyPragmas, dayFile, dayNumber, listDays, prepareEventInsert, retryBusy, SCHEMA } from './schema.js';
import { chunkFile, createChunkFile, hasChunkFile } from './session-chunks.js';
import type { WorkerRequest } from './worker-rpc.js';
import { serveRequests } from './worker-rpc.js';

nameThisThread('logsrv-writer');

interface WriterData {
  dataDir: string;
  synchronous: 'normal' | 'full';
  /** Whether new day files get a full-text index (day-index.ts). */
  searchIndex: boolean;
  /** Rows per full-text index table (day-index.ts). */
  searchChunkRows: number;
  /** Whether report rollups are kept (false only to measure their cost: reports then read nothing). */
  rollups: boolean;
  /** With the index on: the index thread's progress, and the port to tell it of commits (index-worker.ts). */
  index: { progress: SharedArrayBuffer; port: MessagePort; maxLagRows: number; burstLagRows: number } | null;
  /** The session chunk thread's progress, and the port to tell it of commits (session-chunks-worker.ts). */
  chunks: { progress: SharedArrayBuffer; port: MessagePort } | null;
}

const { dataDir, synchronous, searchIndex, searchChunkRows, rollups, index: indexer, chunks: chunker } = workerData as WriterData;
const progress = indexer ? new IndexProgress(indexer.progress) : null;
const chunkProgress = chunker ? new IndexProgress(chunker.progress) : null;
mkdirSync(dataDir, { recursive: true });
const registry = new RegistryDb(dataDir, synchronous);

interface Open {
  day: string;
  db: Database.Database;
  /** Inserts events `from..to-1` not listed in `skip` (ascending batch indices) and records the new marks, in one transaction. */
  insertMany: (r: DayRun, skip: number[] | undefined, marks: Map<string, number> | undefined) => number;
  markOf: Database.Statement;
  /** Days since the epoch. */
  dayNo: number;
  /** The day has an index file, followed by the index thread. */
  indexed: boolean;
  /** The day has a session chunk file, followed by the chunk thread. */
  chunked: boolean;
}

let current: Open | null = null;

/**
 * The WAL checkpoint runs on its own thread (checkpoint-worker.ts, which states the contract):
 * the writer's COMMIT never waits for a checkpoint's copy and fsyncs. Shared state: [0] commits
 * by this thread, [1] set by the checkpointer once it has closed its connection, [2] rows
 * committed by this thread. Should that thread die, the writer goes back to SQLite's automatic
 * checkpoint.
 */
const CKPT_COMMITS = 0;
const CKPT_ACK = 1;
const CKPT_ROWS = 2;
const ckptState = new Int32Array(new SharedArrayBuffer(12));
let checkpointer: Worker | null = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { state: ckptState.buffer } });
const checkpointerGone = () => {
  if (checkpointer === null) return;
  checkpointer = null;
  current?.db.pragma('wal_autocheckpoint = 1000');
};
checkpointer.on('error', checkpointerGone);
checkpointer.on('exit', checkpointerGone);
checkpointer.unref();
let lastMs = 0;
let lastSeq = -1;

/**
 * The index thread's hint ("the writer committed to this day") goes out INDEX_HINT_DELAY_MS after
 * a commit, once for all the commits in between, not inside each commit. Posting it at once woke
 * the index thread while the commit's reply, the hub's frames and the viewer were still on their
 * way: on two cores it took a core from them (probe at 100 lines/s, one line per commit: 0.42 ms
 * p50 from the end of the transaction to the reply, of a ~2.8 ms write → SSE path). Later, it
 * indexes the rows of several commits in one transaction. The lag bound does not depend on it: a
 * writer about to wait for the index thread sends the pending hint first (see `append`). The
 * session chunk thread (session-chunks-worker.ts) gets its hint the same way, for the same reason.
 */
const INDEX_HINT_DELAY_MS = 5;
const indexHint = indexer ? new DelayedHint(indexer.port, INDEX_HINT_DELAY_MS) : null;
const chunkHint = chunker ? new DelayedHint(chunker.port, INDEX_HINT_DELAY_MS) : null;

/**
 * Idempotency (SPEC §1: "a retried `(producer, seq)` is stored once").
 *
 * Rule: each producer has a mark, the highest `seq` committed for it. An event carrying both
 * `producer` and `seq` is stored only when its seq is above the mark; otherwise it is a duplicate:
 * not stored, reported back as accepted-duplicate (not an error). Events without `producer` or
 * `seq` are always stored.
 *
 * This is exact for a producer that numbers its events in increasing order and sends seq n+1
 * only after n is committed, retrying a failed batch whole — what the client's HttpSender and
 * `logsrv run` do: a batch retried after a lost response, whole or partly committed before, is
 * stored once, and a spool replayed from an older position skips what got through. A producer
 * sending out of order would see its late lower seqs dropped as duplicates; gaps are fine (an
 * invalid event that was rejected leaves one).
 *
 * Checking here, in the one writer thread, at commit time, covers copies of a batch that are in
 * the queue at the same time (a client gave up waiting and resent): whichever commits second is
 * the duplicate. Marks live in memory (the MAX_MARKS most recently used producers) and in a
 * `producers` table of each day file, written in the same transaction as the events, so they
 * survive kill -9; at start they are read back from the day files, newest first. A producer not
 * in memory is looked up in the current day's table; one silent since an earlier day and pushed
 * out of memory by MAX_MARKS newer producers starts from no mark.
 */
const DAY_MS = 86_400_000;
const marks = new ProducerMarks();

/** Events `from..to-1` of a batch, all of one day, with the ids the queue gave them. */
interface DayRun {
  c: EventColumns;
  ms: Float64Array;
  seq: Float64Array;
  from: number;
  to: number;
}

/**
 * Indices of the events of `r` not to store, and the marks the others raise. An event is skipped
 * when its id is not above the last stored one (a batch delivered again: ids only grow here, as
 * the one memory queue hands them out in order) or when it is a producer duplicate.
 */
function findDuplicates(o: Open, r: DayRun): { skip: number[] | undefined; raised: Map<string, number> | undefined } {
  const { c } = r;
  let skip: number[] | undefined;
  let raised: Map<string, number> | undefined;
  for (let i = r.from; i < r.to; i++) {
    const m = r.ms[i] as number;
    if (m < lastMs || (m === lastMs && (r.seq[i] as number) <= lastSeq)) {
      skip ??= [];
      skip.push(i);
      continue;
    }
    const producer = c.producer[i];
    const seq = c.pseq[i];
    if (producer == null || seq == null) continue;
    let mark = raised?.get(producer) ?? marks.get(producer);
    if (mark === undefined) {
      const row = o.markOf.get(producer) as { seq: number } | undefined;
      mark = row?.seq ?? -1;
    }
    if (seq <= mark) {
      skip ??= [];
      skip.push(i);
    } else {
      raised ??= new Map();
      raised.set(producer, seq);
    }
  }
  return { skip, raised };
}

function open(day: string): Open {
  const file = dayFile(dataDir, day);
  const db = new Database(file);
  applyPragmas(db, synchronous);
  db.exec(SCHEMA);
  ensureDayTables(db, searchIndex, searchChunkRows);
  // A new day (no rows yet) started with the index on gets its index file now, before its first
  // row: a day has one iff it is indexed from its start (index-file.ts). Files of schema ≤ 3 with
  // their index inside (CHUNK_NAMES_SQL finds it) go on being indexed by prepareDayIndex.
  const inFile = db.prepare(CHUNK_NAMES_SQL).all().length > 0;
  const last = (db.prepare('SELECT max(rowid) FROM events').pluck().get() as number | null) ?? 0;
  if (searchIndex && !inFile && last === 0 && !hasIndexFile(dataDir, day)) createIndexFile(indexFile(dataDir, day), synchronous);
  const indexed = !inFile && hasIndexFile(dataDir, day);
  // Likewise its session chunk file (session-chunks.ts): a day has one iff chunked from its start.
  if (chunker && last === 0 && !hasChunkFile(dataDir, day)) createChunkFile(chunkFile(dataDir, day), synchronous);
  const chunked = chunker !== null && hasChunkFile(dataDir, day);
  const dayNo = dayNumber(day);
  progress?.writerAt(dayNo, last, indexed);
  chunkProgress?.writerAt(dayNo, last, chunked);
  if (checkpointer) {
    db.pragma('wal_autocheckpoint = 0');
    checkpointer.postMessage({ file });
  }
  const index = prepareDayIndex(db, searchChunkRows, rollups);
  const insert = prepareEventInsert(db);
  const raiseMark = db.prepare('INSERT INTO producers (producer, seq) VALUES (?, ?) ON CONFLICT (producer) DO UPDATE SET seq = max(seq, excluded.seq)');
  const markOf = db.prepare('SELECT seq FROM producers WHERE producer = ?');
  // One transaction per batch: this is the group commit — a batch holds many requests' events.
  // Each event is stored under the id its queue gave it.
  const transaction = db.transaction((r: DayRun, skip: number[] | undefined, raised: Map<string, number> | undefined) => {
    const { c, ms, seq } = r;
    let next = 0; // index into skip
    while (skip !== undefined && next < skip.length && (skip[next] as number) < r.from) next++;
    const rows: number[] = [];
    for (let i = r.from; i < r.to; i++) {
      if (skip !== undefined && skip[next] === i) {
        next++;
        continue;
      }
      rows.push(i);
    }
    const lastRowid = insert(c, ms, seq, rows);
    const firstRowid = rows.length > 0 ? lastRowid - rows.length + 1 : -1;
    // Summaries, rollups (and a schema-3 file's in-file full-text index), in the same transaction
    // as the events. A new day's index is written after the commit by the index thread.
    index.apply(r, skip, firstRowid);
    if (raised) for (const [producer, mark] of raised) raiseMark.run(producer, mark);
    return lastRowid;
  });
  const insertMany = (r: DayRun, skip: number[] | undefined, raised: Map<string, number> | undefined): number => {
    const lastRowid = transaction(r, skip, raised);
    index.committed(); // only once the transaction has committed: a failed one leaves nothing known
    return lastRowid;
  };
  return { day, db, insertMany, markOf, dayNo, indexed, chunked };
}

function dbFor(day: string): Open {
  if (current?.day === day) return current;
  // Days only move forward (ids are monotonic), so the previous day's file is done with.
  current?.db.close();
  current = open(day);
  return current;
}

// Day files written before summaries existed get them (and an index) now, before any read.
for (const day of listDays(dataDir)) {
  const db = new Database(dayFile(dataDir, day));
  try {
    applyPragmas(db, synchronous);
    db.exec(SCHEMA);
    ensureDayTables(db, searchIndex, searchChunkRows);
  } finally {
    db.close();
  }
}

// Recover the last id so ids keep increasing across restarts, even if the clock went back.
{
  const days = listDays(dataDir);
  for (let i = days.length - 1; i >= 0 && lastSeq < 0; i--) {
    const db = new Database(dayFile(dataDir, days[i] as string));
    try {
      const row = db.prepare('SELECT ms, seq FROM events ORDER BY rowid DESC LIMIT 1').get() as { ms: number; seq: number } | undefined;
      if (row) {
        lastMs = row.ms;
        lastSeq = row.seq;
      }
    } catch {
      // A file without the table yet (crash right after creation) holds nothing.
    } finally {
      db.close();
    }
  }
  // Producer marks, newest day first, up to MAX_MARKS; inserted oldest first so the newest are
  // the last to be pushed out.
  const found = new Map<string, number>();
  for (let i = days.length - 1; i >= 0 && found.size < MAX_MARKS; i--) {
    const db = new Database(dayFile(dataDir, days[i] as string), { readonly: true });
    try {
      for (const row of db.prepare('SELECT producer, seq FROM producers').iterate() as Iterable<{ producer: string; seq: number }>) {
        const had = found.get(row.producer);
        if (had === undefined) {
          if (found.size >= MAX_MARKS) continue;
          found.set(row.producer, row.seq);
        } else if (row.seq > had) found.set(row.producer, row.seq);
      }
    } catch {
      // A day file from before the producers table, or without any table yet.
    } finally {
      db.close();
    }
  }
  for (const [producer, seq] of [...found].reverse()) marks.remember(producer, seq);
}

serveRequests((req: WorkerRequest) => {
  switch (req.op) {
    case 'append': {
      const c = unpackToColumns(req.events as PackedEvents);
      const ms = req.ms as Float64Array;
      const seq = req.seq as Float64Array;
      let skipped: number[] | undefined;
      // A batch holds one day's events but around midnight; each day's run goes to its own file.
      for (let from = 0; from < c.n; ) {
        const dayNo = Math.floor((ms[from] as number) / DAY_MS);
        let to = from + 1;
        while (to < c.n && Math.floor((ms[to] as number) / DAY_MS) === dayNo) to++;
        const r: DayRun = { c, ms, seq, from, to };
        const o = dbFor(dayOf(ms[from] as number));
        const { skip, raised } = findDuplicates(o, r);
        const stored = to - from - (skip?.length ?? 0);
        if (stored > 0) {
          // Backpressure: the index may lag this day's commits by at most maxLagRows (plus one
          // batch). Searches stay exact at any lag (they scan what is not indexed yet); the bound
          // keeps that scan short. Waiting here holds back the replies, then the queue, then
          // the senders — the queue's own overflow policy applies. While the queue is pressed
          // (Store.queuePressed) the bound is burstLagRows, also for a wait already begun: a
          // burst then waits in the day file for the index, not in a queue that refuses events.
          if (progress && o.indexed && indexer) {
            // Nothing may wait for the hint timer while this thread blocks here.
            if (indexHint?.pending && progress.lag() > indexer.maxLagRows) indexHint.send();
            progress.waitUntilLagAtMost(indexer.maxLagRows, indexer.burstLagRows);
          }
          const lastRowid = retryBusy(() => o.insertMany(r, skip, raised));
          if (progress && o.indexed) {
            progress.writerAt(o.dayNo, lastRowid, true);
            indexHint?.commit(o.day);
          }
          if (chunkProgress && o.chunked) {
            chunkProgress.writerAt(o.dayNo, lastRowid, true);
            chunkHint?.commit(o.day);
          }
          Atomics.add(ckptState, CKPT_ROWS, stored);
          Atomics.add(ckptState, CKPT_COMMITS, 1);
        }
        // Only after the commit: a failed transaction leaves the marks as they were.
        if (raised) for (const [producer, mark] of raised) marks.remember(producer, mark);
        if (stored > 0) {
          let last = to - 1;
          while (skip?.includes(last)) last--;
          lastMs = ms[last] as number;
          lastSeq = seq[last] as number;
        }
        if (skip) skipped = skipped ? skipped.concat(skip) : skip;
        from = to;
      }
      return skipped ? { skipped } : {};
    }
    case 'lastId':
      return lastSeq < 0 ? null : { ms: lastMs, seq: lastSeq };
    case 'register':
      return retryBusy(() => registry.register(req.session as string, req.registration as Registration, req.nowMs as number));
    case 'registryMappings':
      return registry.mappings();
    case 'close':
      // The index thread is closed first (SqliteStore.close); it catches up on its next start.
      indexHint?.cancel();
      chunkHint?.cancel();
      registry.close();
      if (checkpointer) {
        // Its connection closed before the last checkpoint here, which truncates the WAL.
        const c = checkpointer;
        checkpointer = null;
        c.postMessage({ close: true });
        Atomics.wait(ckptState, CKPT_ACK, 0, 5000);
      }
      if (current) {
        current.db.pragma('wal_checkpoint(TRUNCATE)');
        current.db.close();
        current = null;
      }
      return null;
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}, parentPort);
