/**
 * Pages of a read rendered as response text in the reader thread (`format=json|ndjson|text`):
 * one string crosses to the receiving thread instead of a page of objects.
 *
 * Why: structured-cloning 10,000 events to the receiving thread and stringifying them there cost
 * more than rendering them where they are read. Measured here (CPU ms per 10k-event page, machine
 * under load): rowToEvent + clone + JSON.stringify 63–68; rowToEvent + JSON.stringify in the reader
 * + cloning the string 37–38. A hand-built JSON writer was slower than V8's JSON.stringify (73–77).
 * Rendering goes through the same functions as query/render.ts, so the bytes are the same whichever
 * thread renders (tested).
 */
import type { StoredEvent } from '@logsrv/protocol';
import { outputPiece, screenLine } from '@logsrv/protocol';

export const TEXT_FORMATS = ['json', 'ndjson', 'text'] as const;
export type TextFormat = (typeof TEXT_FORMATS)[number];

export interface RenderedPage {
  /**
   * The whole response body; or its parts, in order (the SQLite store's pages from session
   * chunks: the chunks' bytes as read, never joined into one buffer).
   */
  body: string | Buffer[];
  /**
   * Called once the body has been written or the response aborted: the body's memory is lent
   * (the SQLite store's page slab, page-slab.ts) and goes back to its owner then.
   */
  release?: () => void;
  /** As in EventPage: the id of the last event when more follow, else null. */
  next: string | null;
  /** As in EventPage, for `before` reads only. */
  prev?: string | null;
  count: number;
}

/**
 * How `format=text` reads a page of one session's events:
 * - `joined` (a session read without `q`): the command's output as a terminal showed it —
 *   `stdout`/`stderr` pieces joined into lines in id order (both streams share the screen), each
 *   line through screenLine (`\r` redraws shown as their last state), a named step's
 *   `step.start` as a separator line `── step NAME ──`, other events left out unless `key` asks
 *   for them. A line still open at the end of the page is written without its newline; the next
 *   page goes on with it (and, when that page starts with a redraw, keeps its leading `\r`, so
 *   pages joined still show one line).
 * - otherwise (search results, `q` matches): every value on its own line, output through
 *   screenLine, other values as JSON.
 */
export interface TextOptions {
  joined: boolean;
  /** The page starts after a cursor: its first piece may continue a line of the previous page. */
  continued?: boolean;
  /** The `key` filter of the read, if any. */
  key?: string;
}

const OUTPUT_KEYS = new Set(['stdout', 'stderr']);

function valueText(e: StoredEvent): string {
  return typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
}

/** The body of `format=text` (see {@link TextOptions}). */
export function renderTextBody(events: StoredEvent[], opts: TextOptions = { joined: false }): string {
  let body = '';
  if (!opts.joined) {
    for (const e of events) body += `${OUTPUT_KEYS.has(e.key) ? screenLine(valueText(e)) : valueText(e)}\n`;
    return body;
  }
  let acc = '';
  let open = false;
  let first = opts.continued === true;
  const line = (raw: string): string => {
    const shown = screenLine(raw);
    const keepCr = first && raw.charCodeAt(0) === 0x0d;
    first = false;
    return keepCr ? `\r${shown}` : shown;
  };
  for (const e of events) {
    if (OUTPUT_KEYS.has(e.key)) {
      const p = outputPiece(e);
      acc += p.text;
      open = p.open;
      if (open) continue;
      body += `${line(acc)}\n`;
      acc = '';
      continue;
    }
    if (open) {
      body += `${line(acc)}\n`;
      acc = '';
      open = false;
    }
    first = false;
    if (opts.key !== undefined) body += `${valueText(e)}\n`;
    else if (e.key === 'step.start' && e.step !== undefined) body += `── step ${e.step} ──\n`;
  }
  if (open) body += line(acc);
  return body;
}

/** A page of events as the body of `format`: json `{"events":[...],"next":...}`, ndjson, or text ({@link renderTextBody}). */
/** How a session's page reads as text (format=text/html), the same for every store. */
export function sessionTextOptions(q: { q?: string | undefined; key?: string | undefined; after?: unknown; before?: unknown }): TextOptions {
  const continued = (q.after ?? null) !== null || (q.before ?? null) !== null;
  return { joined: q.q === undefined, continued, key: q.key };
}

export function renderPage(events: StoredEvent[], next: string | null, format: TextFormat, prev?: string | null, text?: TextOptions): RenderedPage {
  let body = '';
  if (format === 'json') body = JSON.stringify(prev === undefined ? { events, next } : { events, next, prev });
  else if (format === 'ndjson') for (const e of events) body += `${JSON.stringify(e)}\n`;
  else body = renderTextBody(events, text);
  return prev === undefined ? { body, next, count: events.length } : { body, next, prev, count: events.length };
}
