/**
 * A plain session page (`GET /v1/sessions/:s/events`, forwards, no key/step/q filter, json or
 * ndjson) read from the days' session chunks (session-chunks.ts) where they exist: the chunks up
 * to a day's watermark are copied as they are, the rows after it read and rendered as before
 * (read-session.ts, render-json.ts). Days without a chunk file (written before chunks) are read
 * as before. The bytes are those of renderJsonRows over the same events (tested).
 *
 * The body is a list of parts: views of the chunks' blobs as SQLite returned them, which the
 * reader thread copies into its page slab (page-slab.ts) or, when no slot is free, moves to the
 * main thread as they are (worker-rpc.ts transferWith). Never joined into one fresh buffer: its
 * page faults cost more than reading the chunks.
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

/** Events `i0..i1-1` of a chunk, or rows read from a day file. */
type Piece = { json: Buffer; d: DecodedChunk; i0: number; i1: number } | { rows: unknown[][] };

const size = (p: Piece) => ('rows' in p ? p.rows.length : p.i1 - p.i0);

/** The page's body and cursor, as renderJsonRows / renderPage give them. */
export function renderSessionChunked(
  ctx: ChunkReadContext,
  q: SessionQuery,
  format: 'json' | 'ndjson',
): { page: { body: Buffer[]; next: string | null; count: number }; own: ArrayBuffer[] } {
  const want = q.limit + 1; // one extra event tells whether another page follows
  const bound: EventId = q.after ?? { ms: -1, seq: -1 };
  const startDay = q.after ? dayOf(q.after.ms) : '';
  const pieces: Piece[] = [];
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
            const scan = ctx.rawStmt(day, db, 'SELECT first, ids, json FROM sc.chunks WHERE session = ? AND first >= ? ORDER BY first');
            for (const [first, ids, json] of scan.iterate(q.session, start) as IterableIterator<[number, Buffer, Buffer]>) {
              const d = decodeChunk(first, ids);
              let i0 = 0;
              while (i0 < d.n && d.rowid(i0) < from) i0++;
              const i1 = Math.min(d.n, i0 + want - got);
              if (i1 > i0) {
                pieces.push({ json, d, i0, i1 });
                got += i1 - i0;
              }
              if (got >= want) break;
            }
          }
        }
        if (got < want) {
          const rows = dayRowsFrom(ctx, day, db, q, JSON_COLUMNS, bound, want - got, minRowid);
          if (rows.length > 0) {
            pieces.push({ rows });
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
  // The extra event only says that more follow.
  const more = got > q.limit;
  if (more) {
    const last = pieces[pieces.length - 1] as Piece;
    if ('rows' in last) last.rows.pop();
    else last.i1--;
    if (size(last) === 0) pieces.pop();
    got--;
  }
  const tail = pieces[pieces.length - 1];
  const next = more && tail ? lastId(tail) : null;
  const { parts, own } = format === 'json' ? jsonBody(pieces, next) : ndjsonBody(pieces);
  // `own`: the buffers among the parts this thread owns whole, which may be moved, not copied.
  return { page: { body: parts, next, count: got }, own };
}

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
  return p.json.toString('latin1', at, p.json.indexOf(0x22, at));
}

const HEAD = Buffer.from('{"events":[');
const COMMA = Buffer.from(',');

/** A body in parts, and the buffers among them this thread owns whole (to move, not copy). */
interface Parts {
  parts: Buffer[];
  own: ArrayBuffer[];
}

function jsonBody(pieces: Piece[], next: string | null): Parts {
  const iso = new IsoCache();
  const parts: Buffer[] = [HEAD];
  const own: ArrayBuffer[] = [];
  for (const [k, p] of pieces.entries()) {
    if (k > 0) parts.push(COMMA);
    if ('rows' in p) {
      let s = '';
      for (let i = 0; i < p.rows.length; i++) s += (i === 0 ? '' : ',') + eventJson(p.rows[i] as unknown[], iso);
      parts.push(Buffer.from(s));
    } else {
      // better-sqlite3 returns each blob in a buffer of its own.
      parts.push(p.json.subarray(p.d.start(p.i0), p.d.end(p.i1 - 1)));
      own.push(p.json.buffer as ArrayBuffer);
    }
  }
  parts.push(Buffer.from(`],"next":${JSON.stringify(next)}}`));
  return { parts, own };
}

function ndjsonBody(pieces: Piece[]): Parts {
  const iso = new IsoCache();
  const parts: Buffer[] = [];
  const own: ArrayBuffer[] = [];
  for (const p of pieces) {
    if ('rows' in p) {
      let s = '';
      for (const a of p.rows) s += `${eventJson(a, iso)}\n`;
      parts.push(Buffer.from(s));
      continue;
    }
    // The chunk's bytes with a newline in place of each ',' between events, and after the last.
    const lo = p.d.start(p.i0);
    const hi = p.d.end(p.i1 - 1);
    const b = Buffer.allocUnsafeSlow(hi - lo + 1); // not from the pool: owned whole
    p.json.copy(b, 0, lo, hi);
    for (let i = p.i0; i < p.i1; i++) b[p.d.end(i) - lo] = 0x0a;
    parts.push(b);
    own.push(b.buffer as ArrayBuffer);
  }
  return { parts, own };
}
