/**
 * A SQLite reader thread. Several run beside the writer (WAL lets them read while it commits);
 * each keeps its own connections to the day files it has read.
 */
import { existsSync, statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { EventId } from '@logsrv/protocol';
import { dayOf, isSessionEnd, SESSION_END_KEY, STEP_EXIT_KEY } from '@logsrv/protocol';
import Database from 'better-sqlite3';
import { nameThisThread } from '../../thread-name.js';
import type { ReportWindow } from '../rollups.js';
import type { TextFormat } from '../row-text.js';
import { renderPage, sessionTextOptions } from '../row-text.js';
import { arrayToEvent, rowToEvent } from '../rows.js';
import type { EventPage, EventsQuery, SessionEnd, SessionQuery, SessionsQuery } from '../store.js';
import { indexFile } from './index-file.js';
import { assertAscii, PageSlab } from './page-slab.js';
import { defineMatchFunction, isNoSuchTable, NO_BOUND, readEventRows, readEvents } from './read-events.js';
import { reportKeyMinutes, reportKeys, reportLevels } from './read-reports.js';
import { readSessionRows } from './read-session.js';
import type { BodyPart, ChunkReadContext } from './read-session-chunks.js';
import { chunkable, PageTooLarge, renderSessionChunked } from './read-session-chunks.js';
import type { SessionsContext } from './read-sessions.js';
import { listSessions, sessionSummary } from './read-sessions.js';
import { registryFile } from './registry-db.js';
import { JSON_COLUMNS, renderJsonRows } from './render-json.js';
import { dayFile, listDays, SELECT_COLUMNS } from './schema.js';
import { chunkFile } from './session-chunks.js';
import type { WorkerRequest } from './worker-rpc.js';
import { serveRequests, transferWith } from './worker-rpc.js';

nameThisThread('logsrv-reader');

const { dataDir, slab: slabBuffer } = workerData as { dataDir: string; slab?: SharedArrayBuffer };
/** Where large page bodies go to the main thread (page-slab.ts), when a slot is free. */
const slab = slabBuffer ? new PageSlab(slabBuffer) : null;

/**
 * A rendered page's answer: its body in a slot of the slab, else its parts moved across (`own`:
 * the buffers among them this thread owns whole).
 */
function answer<T extends { body: BodyPart[] }>(
  page: T,
  own: ArrayBuffer[],
): (Omit<T, 'body'> & { body: Buffer[] }) | (Omit<T, 'body'> & { body: { slot: number; length: number } }) {
  const slot = slab?.put(page.body) ?? -1;
  if (slot < 0) {
    // Strings (ASCII only) become buffers of their own, moved with the rest.
    const body = page.body.map((p) => {
      if (typeof p !== 'string') return p;
      assertAscii(p);
      const b = Buffer.allocUnsafeSlow(p.length);
      b.write(p, 'latin1');
      own.push(b.buffer as ArrayBuffer);
      return b;
    });
    return transferWith({ ...page, body }, own);
  }
  let length = 0;
  for (const p of page.body) length += typeof p === 'string' ? p.length : p.byteLength;
  return { ...page, body: { slot, length } };
}
/**
 * A plain session page from the chunks, written straight into a free slot of the slab as it is
 * read (read-session-chunks.ts); without a free slot, or when the page outgrows one, its parts are
 * made in memory and moved.
 */
function chunkedPage(q: SessionQuery, format: 'json' | 'ndjson') {
  const w = slab?.writer() ?? null;
  if (w) {
    try {
      const { page } = renderSessionChunked(ctx, q, format, w);
      return { ...page, body: { slot: w.slot, length: w.length } };
    } catch (err) {
      w.abort();
      if (!(err instanceof PageTooLarge)) throw err;
    }
  }
  const { page, own } = renderSessionChunked(ctx, q, format);
  return answer(page, own);
}

interface DayConn {
  db: Database.Database;
  /** The inodes of the day file, its index file and its chunk file when it was opened. */
  ino: number;
  ixIno: number | undefined;
  scIno: number | undefined;
  /** Whether the index and chunk files are attached (`ix`, `sc`). */
  ix: boolean;
  sc: boolean;
  /** Date.now() when it was opened, and the request that last checked its files. */
  openedAt: number;
  checkedIn: number;
}
const conns = new Map<string, DayConn>();
/** Bumped for each request: a day's files are checked once per request (see conn). */
let requestNo = 0;
/** A derived file that could not be attached is tried again after this long. */
const ATTACH_RETRY_MS = 1000;
/** SQLite's own ceiling (SQLITE_MAX_MMAP_SIZE); address space, not memory: pages stay the OS's. */
const MMAP_BYTES = 0x7fff0000;

/**
 * The connection to a day's file. Days come and go while the server runs (`logsrv archive` moves
 * them out, `logsrv restore` puts them back, the chunk thread compacts a chunk file), so the files
 * are checked at a request's first use of the day: a cached connection to a file that was removed
 * or replaced is closed, with its statements. Not on its later uses: the request may be iterating
 * over the connection, which closing it would break.
 */
function conn(day: string): Database.Database | null {
  const cached = conns.get(day);
  if (cached?.checkedIn === requestNo) return cached.db;
  const file = dayFile(dataDir, day);
  const ino = statSync(file, { throwIfNoEntry: false })?.ino;
  // The day's index file (index-file.ts), attached as `ix` when there is one. It may appear after
  // the day file (the writer creates it right after) or go with it (archive): same check.
  const ixIno = statSync(indexFile(dataDir, day), { throwIfNoEntry: false })?.ino;
  // Its session chunk file (session-chunks.ts) likewise, as `sc`.
  const scIno = statSync(chunkFile(dataDir, day), { throwIfNoEntry: false })?.ino;
  if (cached && cached.ino === ino && cached.ixIno === ixIno && cached.scIno === scIno) {
    const missing = (ixIno !== undefined && !cached.ix) || (scIno !== undefined && !cached.sc);
    if (!missing || Date.now() - cached.openedAt < ATTACH_RETRY_MS) {
      cached.checkedIn = requestNo;
      return cached.db;
    }
  }
  if (cached) forget(day, cached.db);
  if (ino === undefined) return null;
  const db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('query_only = 1');
  // Pages read through a memory map instead of copied into each connection's cache: a session's
  // 10,000 rows are scattered over a day file of ~1 GB; measured here ~35 ms instead of ~60 ms.
  db.pragma(`mmap_size = ${MMAP_BYTES}`);
  defineMatchFunction(db);
  // Both are derived data: one that cannot be attached is read without, and tried again by a
  // request ATTACH_RETRY_MS later.
  // On a full disk a file whose last connection closed (its thread gave the day up) cannot get its
  // shared-memory file back (SQLITE_IOERR_SHMSIZE): its day is then searched by scanning the rows
  // (read-events.ts dayText), and its pages read from the rows, instead of every read failing.
  const ix = ixIno !== undefined && attachDerived(db, 'ix', indexFile(dataDir, day));
  const sc = scIno !== undefined && attachDerived(db, 'sc', chunkFile(dataDir, day));
  conns.set(day, { db, ino, ixIno, scIno, ix, sc, openedAt: Date.now(), checkedIn: requestNo });
  return db;
}

/** Attaches a derived file as `schema`, memory-mapped; false (and nothing attached) when it cannot be read. */
function attachDerived(db: Database.Database, schema: 'ix' | 'sc', path: string): boolean {
  try {
    db.prepare(`ATTACH ? AS ${schema}`).run(path);
  } catch {
    return false;
  }
  try {
    db.pragma(`${schema}.mmap_size = ${MMAP_BYTES}`); // the first read of the file
    return true;
  } catch {
    db.exec(`DETACH ${schema}`);
    return false;
  }
}

function forget(day: string, db: Database.Database): void {
  conns.delete(day);
  for (const cache of [stmtCache, rawCache]) {
    for (const k of cache.keys()) if (k.startsWith(`${day}\n`)) cache.delete(k);
  }
  db.close();
}

const stmtCache = new Map<string, Database.Statement>();
function stmt(day: string, db: Database.Database, sql: string): Database.Statement {
  const k = `${day}\n${sql}`;
  let s = stmtCache.get(k);
  if (!s) {
    s = db.prepare(sql);
    stmtCache.set(k, s);
  }
  return s;
}

let registryConn: Database.Database | null = null;
function registry(): Database.Database | null {
  if (registryConn) return registryConn;
  const file = registryFile(dataDir);
  if (!existsSync(file)) return null;
  registryConn = new Database(file, { fileMustExist: true });
  registryConn.pragma('busy_timeout = 5000');
  registryConn.pragma('query_only = 1');
  return registryConn;
}

const ctx: ChunkReadContext & SessionsContext = {
  days: () => listDays(dataDir),
  conn,
  stmt,
  rawStmt,
  registry,
  indexAttached: (day) => conns.get(day)?.ix === true,
  chunksAttached: (day) => conns.get(day)?.sc === true,
};

/** Statements in raw mode (rows as arrays), cached apart from the object-mode ones. */
const rawCache = new Map<string, Database.Statement>();
function rawStmt(day: string, db: Database.Database, sql: string): Database.Statement {
  const k = `${day}\n${sql}`;
  let s = rawCache.get(k);
  if (!s) {
    s = db.prepare(sql).raw(true);
    rawCache.set(k, s);
  }
  return s;
}

/** One session's page of events (read-session.ts; a full-text filter takes readEvents's planner). */
function readSession(q: SessionQuery): EventPage {
  if (hasText(q)) {
    const { rows, next } = readEventRows(ctx, { ...q, until: null });
    return { events: rows.map(rowToEvent), next };
  }
  const page = readSessionRows(ctx, q, SELECT_COLUMNS);
  const events = page.rows.map(arrayToEvent);
  return page.prev === undefined ? { events, next: page.next } : { events, next: page.next, prev: page.prev };
}

function hasText(q: SessionQuery): boolean {
  return q.q !== undefined && q.q.trim() !== '';
}

interface EndRow {
  ms: number;
  seq: number;
  key: string;
  value: string;
  vjson: number;
}

function sessionEnd(session: string, after: EventId | null, until: EventId | null): SessionEnd {
  const lo = after ?? { ms: -1, seq: -1 };
  const hi = until ?? { ms: NO_BOUND, seq: NO_BOUND };
  const days = listDays(dataDir);
  const startDay = after ? dayOf(after.ms) : '';
  const endDay = until ? dayOf(until.ms) : '99999999';
  const firstSql = `SELECT ms, seq, key, value, vjson FROM events WHERE session = ? AND (ms, seq) > (?, ?) AND (ms, seq) <= (?, ?) AND key IN ('${SESSION_END_KEY}', '${STEP_EXIT_KEY}') ORDER BY ms, seq`;
  if (lo.ms < hi.ms || (lo.ms === hi.ms && lo.seq < hi.seq)) {
    for (const day of days) {
      if (day < startDay) continue;
      if (day > endDay) break;
      const db = conn(day);
      if (!db) continue;
      try {
        for (const r of stmt(day, db, firstSql).iterate(session, lo.ms, lo.seq, hi.ms, hi.seq) as IterableIterator<EndRow>) {
          if (isSessionEnd(r.key, r.value, r.vjson)) return { first: `${r.ms}-${r.seq}`, endedAt: null };
        }
      } catch (err) {
        if (!isNoSuchTable(err)) throw err;
      }
    }
  }
  // No end in the range: the session has still ended if its newest event up to `until` is an end.
  const lastSql = 'SELECT ms, seq, key, value, vjson FROM events WHERE session = ? AND (ms, seq) <= (?, ?) ORDER BY ms DESC, seq DESC LIMIT 1';
  for (let i = days.length - 1; i >= 0; i--) {
    const day = days[i] as string;
    if (day > endDay) continue;
    const db = conn(day);
    if (!db) continue;
    let r: EndRow | undefined;
    try {
      r = stmt(day, db, lastSql).get(session, hi.ms, hi.seq) as EndRow | undefined;
    } catch (err) {
      if (isNoSuchTable(err)) continue;
      throw err;
    }
    if (r) return { first: null, endedAt: isSessionEnd(r.key, r.value, r.vjson) ? `${r.ms}-${r.seq}` : null };
  }
  return { first: null, endedAt: null };
}

serveRequests((req: WorkerRequest) => {
  requestNo++;
  switch (req.op) {
    case 'readSession':
      return readSession(req.q as SessionQuery);
    case 'readEvents':
      return readEvents(ctx, req.q as EventsQuery);
    case 'renderSession': {
      const q = req.q as SessionQuery;
      const format = req.format as TextFormat;
      // A plain page from the session chunks where there are some (read-session-chunks.ts): the
      // benchmarked hot path. The body is written into the slab as it is read (chunkedPage).
      if (chunkable(q, format)) {
        try {
          return chunkedPage(q, format as 'json' | 'ndjson');
        } catch (err) {
          // The chunks are derived data: a page they cannot give (a full disk, say) is read from the rows.
          process.stderr.write(`logsrv: session chunks of ${q.session}: ${(err as Error).message}; read from the rows\n`);
        }
      }
      // JSON written from the rows (render-json.ts).
      if (format !== 'text' && !hasText(q)) {
        const page = readSessionRows(ctx, q, JSON_COLUMNS);
        // Encoded here, not on the socket thread, and moved there (a buffer of its own: not from
        // Node's pool, which serves only small ones) rather than copied.
        const bytes = Buffer.from(renderJsonRows(page, format));
        const own = bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer as ArrayBuffer] : [];
        // As renderPage: `prev` only on a `before` read.
        return answer(
          page.prev === undefined
            ? { body: [bytes], next: page.next, count: page.rows.length }
            : { body: [bytes], next: page.next, prev: page.prev, count: page.rows.length },
          own,
        );
      }
      const page = readSession(q);
      return renderPage(page.events, page.next, req.format as TextFormat, page.prev, sessionTextOptions(q));
    }
    case 'renderEvents': {
      const page = readEvents(ctx, req.q as EventsQuery);
      return renderPage(page.events, page.next, req.format as TextFormat);
    }
    case 'listSessions':
      return listSessions(ctx, req.q as SessionsQuery);
    case 'sessionSummary':
      return sessionSummary(ctx, req.session as string);
    case 'sessionEnd':
      return sessionEnd(req.session as string, req.after as EventId | null, req.until as EventId | null);
    case 'reportLevels':
      return reportLevels(ctx, req.w as ReportWindow);
    case 'reportKeys':
      return reportKeys(ctx, req.w as ReportWindow, req.limit as number);
    case 'reportKeyMinutes':
      return reportKeyMinutes(ctx, req.w as ReportWindow, req.key as string);
    case 'close':
      for (const c of conns.values()) c.db.close();
      conns.clear();
      rawCache.clear();
      registryConn?.close();
      registryConn = null;
      stmtCache.clear();
      return null;
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}, parentPort);
