/**
 * A plain session page (`GET /v1/sessions/:s/events`, forwards, no key/step/q filter, json or
 * ndjson) read from the days' session chunks (session-chunks.ts) where they exist: the chunks up
 * to a day's watermark are copied as they are, the rows after it read and rendered as before
 * (read-session.ts, render-json.ts). Days without a chunk file (written before chunks) are read
 * as before. The bytes are those of renderJsonRows over the same events (tested).
 *
 * The body is a list of parts: slices of the chunks' JSON as SQLite returned it (as strings when
 * all ASCII, see TEXT_SCAN, else as bytes), which the reader thread copies into its page slab
 * (page-slab.ts) or, when no slot is free, moves to the main thread as buffers (worker-rpc.ts
 * transferWith). Never joined into one fresh buffer: its page faults cost more than reading the
 * chunks.
 */
import type { EventId } from '@logsrv/protocol';
import { dayOf } from '@logsrv/protocol';
import type { SessionQuery } from '../store.js';
import { isNoSuchTable, rowidAfter } from './read-events.js';
import type { SessionReadContext } from './read-session.js';
import { dayRowsFrom } from './read-session.js';
import { eventJson, IsoCache, JSON_COLUMNS } from './render-json.js';
import type { DecodedChunk } from './session-chunks.js';
import { decodeChunk } from './session-chunks.js';

export interface ChunkReadContext extends SessionReadContext {
  /** Whether the day's chunk file is attached to its connection (as `sc`). */
  chunksAttached(day: string): boolean;
}

/** Whether a session page can be read from chunks: forwards, unfiltered, JSON. */
export function chunkable(q: SessionQuery, format: string): boolean {
  return (format === 'json' || format === 'ndjson') && !q.before && q.key === undefined && q.step === undefined && (q.q === undefined || q.q.trim() === '');
}

/**
 * Events `i0..i1-1` of a chunk — its JSON as bytes, or as a string when it is all ASCII (then its
 * byte offsets are string indices) — or rows read from a day file.
 */
type Piece = { json: Buffer; d: DecodedChunk; i0: number; i1: number } | { text: string; d: DecodedChunk; i0: number; i1: number } | { rows: unknown[][] };

/** A part of a body: bytes, or a string of ASCII characters only (one byte each). */
export type BodyPart = Buffer | string;

const size = (p: Piece) => ('rows' in p ? p.rows.length : p.i1 - p.i0);

/** Where a page's parts go as they are made: a slot of the reader's page slab (page-slab.ts). */
export interface PartSink {
  /** Appends a part; false when it does not fit (nothing written). */
  write(part: BodyPart): boolean;
}

/** Thrown when a page does not fit its sink: the caller makes it again in memory. */
export class PageTooLarge extends Error {
  constructor() {
    super('page larger than its sink');
  }
}

/**
 * The page's body and cursor, as renderJsonRows / renderPage give them. With a `sink`, the body
 * is written into it as it is read and `body` is empty: each chunk's JSON then lives only until
 * the next chunk is read (one piece is held back, in case it holds the extra event), instead of
 * the whole page's chunks living to the end of the read.
 */
export function renderSessionChunked(
  ctx: ChunkReadContext,
  q: SessionQuery,
  format: 'json' | 'ndjson',
  sink?: PartSink,
): { page: { body: BodyPart[]; next: string | null; count: number }; own: ArrayBuffer[] } {
  const want = q.limit + 1; // one extra event tells whether another page follows
  const bound: EventId = q.after ?? { ms: -1, seq: -1 };
  const startDay = q.after ? dayOf(q.after.ms) : '';
  const parts: BodyPart[] = [];
  // `own`: the buffers among the parts this thread owns whole, which may be moved, not copied.
  const own: ArrayBuffer[] = [];
  const emit = (part: BodyPart) => {
    if (!sink) parts.push(part);
    else if (!sink.write(part)) throw new PageTooLarge();
  };
  const iso = new IsoCache();
  let emitted = 0;
  /** The id of the last event written, for `next` when the held piece comes to nothing. */
  let emittedLastId: string | null = null;
  const emitPiece = (p: Piece) => {
    if (format === 'json' && emitted > 0) emit(COMMA);
    emit(format === 'json' ? jsonPart(p, iso, own) : ndjsonPart(p, iso, own));
    emitted++;
    emittedLastId = lastId(p);
  };
  let held: Piece | null = null;
  const add = (p: Piece) => {
    if (held) emitPiece(held);
    held = p;
  };
  if (format === 'json') emit(HEAD);
  let got = 0;
  for (const day of ctx.days()) {
    if (day < startDay) continue;
    if (got >= want) break;
    const db = ctx.conn(day);
    if (!db) continue;
    try {
      // One read transaction over the chunk file and the day file. The chunks are read first:
      // the day file's snapshot is then at least as new as the rows they hold.
      db.transaction(() => {
        let minRowid = 0;
        const built = ctx.chunksAttached(day) ? watermark(ctx, day, db) : 0;
        if (built > 0) {
          const from = dayOf(bound.ms) === day ? rowidAfter(ctx, day, db, bound) : 0;
          minRowid = built + 1;
          if (from <= built) {
            const start =
              (ctx.stmt(day, db, 'SELECT max(first) FROM sc.chunks WHERE session = ? AND first <= ?').pluck().get(q.session, from) as number | null) ?? 0;
            // JSON pages take a chunk's JSON as a string (see TEXT_SCAN), NDJSON ones as bytes.
            const scan = ctx.rawStmt(day, db, format === 'json' ? TEXT_SCAN : BLOB_SCAN);
            for (const [first, ids, json, bytes] of scan.iterate(q.session, start) as IterableIterator<[number, Buffer, Buffer | string, number]>) {
              const d = decodeChunk(first, ids);
              let i0 = 0;
              while (i0 < d.n && d.rowid(i0) < from) i0++;
              const i1 = Math.min(d.n, i0 + want - got);
              if (i1 > i0) {
                if (typeof json !== 'string') add({ json, d, i0, i1 });
                // As many characters as bytes: ASCII only (the chunk thread writes valid UTF-8).
                else if (json.length === bytes) add({ text: json, d, i0, i1 });
                else add({ json: ctx.stmt(day, db, BLOB_ONE).pluck().get(q.session, first) as Buffer, d, i0, i1 });
                got += i1 - i0;
              }
              if (got >= want) break;
            }
          }
        }
        if (got < want) {
          const rows = dayRowsFrom(ctx, day, db, q, JSON_COLUMNS, bound, want - got, minRowid);
          if (rows.length > 0) {
            add({ rows });
            got += rows.length;
          }
        }
      })();
    } catch (err) {
      // The writer creates a day's file and then its tables; a reader may see the file between.
      if (isNoSuchTable(err)) continue;
      throw err;
    }
  }
  // The extra event only says that more follow: it is in the piece held back.
  const more = got > q.limit;
  const last = held as Piece | null;
  if (more && last) {
    if ('rows' in last) last.rows.pop();
    else last.i1--;
    got--;
  }
  if (last && size(last) > 0) emitPiece(last);
  const next = more ? emittedLastId : null;
  if (format === 'json') emit(Buffer.from(`],"next":${JSON.stringify(next)}}`));
  return { page: { body: parts, next, count: got }, own };
}

const BLOB_SCAN = 'SELECT first, ids, json, 0 FROM sc.chunks WHERE session = ? AND first >= ? ORDER BY first';
/**
 * A chunk's JSON as a string, and its length in bytes. Why not the bytes: better-sqlite3 gives a
 * blob as a Buffer of its own, memory outside V8's heap, and ~3 MB of those per 10,000-event page
 * made the reader thread's V8 run a full mark-compact every 1-6 pages (--trace-gc, 5-140 ms each
 * on this 2-core machine, inside the page's read). A string is heap memory that dies young: a
 * scavenge, which costs nothing for dead objects. A chunk that is not all ASCII is read again
 * as bytes (BLOB_ONE): its byte offsets are not string indices.
 */
const TEXT_SCAN = 'SELECT first, ids, CAST(json AS TEXT), length(json) FROM sc.chunks WHERE session = ? AND first >= ? ORDER BY first';
const BLOB_ONE = 'SELECT json FROM sc.chunks WHERE session = ? AND first = ?';

/** The chunk file's watermark; 0 while it has no tables yet (the writer has just created it). */
function watermark(ctx: ChunkReadContext, day: string, db: import('better-sqlite3').Database): number {
  try {
    return ctx.stmt(day, db, 'SELECT built FROM sc.chunk_state WHERE id = 1').pluck().get() as number;
  } catch (err) {
    if (isNoSuchTable(err)) return 0;
    throw err;
  }
}

function lastId(p: Piece): string {
  if ('rows' in p) {
    const a = p.rows[p.rows.length - 1] as unknown[];
    return `${a[0] as number}-${a[1] as number}`;
  }
  // Every event's JSON starts with `{"id":"<ms>-<seq>"` (render-json.ts).
  const at = p.d.start(p.i1 - 1) + 7;
  if ('text' in p) return p.text.slice(at, p.text.indexOf('"', at));
  return p.json.toString('latin1', at, p.json.indexOf(0x22, at));
}

const HEAD = Buffer.from('{"events":[');
const COMMA = Buffer.from(',');

/** A piece's bytes in a JSON body (without the commas around it). */
function jsonPart(p: Piece, iso: IsoCache, own: ArrayBuffer[]): BodyPart {
  if ('rows' in p) {
    let s = '';
    for (let i = 0; i < p.rows.length; i++) s += (i === 0 ? '' : ',') + eventJson(p.rows[i] as unknown[], iso);
    return Buffer.from(s);
  }
  if ('text' in p) return p.text.slice(p.d.start(p.i0), p.d.end(p.i1 - 1));
  // better-sqlite3 returns each blob in a buffer of its own.
  own.push(p.json.buffer as ArrayBuffer);
  return p.json.subarray(p.d.start(p.i0), p.d.end(p.i1 - 1));
}

/** A piece's lines in an NDJSON body. */
function ndjsonPart(p: Piece, iso: IsoCache, own: ArrayBuffer[]): BodyPart {
  if ('rows' in p) {
    let s = '';
    for (const a of p.rows) s += `${eventJson(a, iso)}\n`;
    return Buffer.from(s);
  }
  if ('text' in p) throw new Error('ndjson pages read chunks as bytes');
  // The chunk's bytes with a newline in place of each ',' between events, and after the last.
  const lo = p.d.start(p.i0);
  const hi = p.d.end(p.i1 - 1);
  const b = Buffer.allocUnsafeSlow(hi - lo + 1); // not from the pool: owned whole
  p.json.copy(b, 0, lo, hi);
  for (let i = p.i0; i < p.i1; i++) b[p.d.end(i) - lo] = 0x0a;
  own.push(b.buffer as ArrayBuffer);
  return b;
}
