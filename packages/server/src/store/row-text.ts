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

export const TEXT_FORMATS = ['json', 'ndjson', 'text'] as const;
export type TextFormat = (typeof TEXT_FORMATS)[number];

export interface RenderedPage {
  /** The whole response body. */
  body: string;
  /** As in EventPage: the id of the last event when more follow, else null. */
  next: string | null;
  /** As in EventPage, for `before` reads only. */
  prev?: string | null;
  count: number;
}

/** A page of events as the body of `format`: json `{"events":[...],"next":...}`, ndjson, or values one per line. */
export function renderPage(events: StoredEvent[], next: string | null, format: TextFormat, prev?: string | null): RenderedPage {
  let body = '';
  if (format === 'json') body = JSON.stringify(prev === undefined ? { events, next } : { events, next, prev });
  else if (format === 'ndjson') for (const e of events) body += `${JSON.stringify(e)}\n`;
  // What a terminal would have shown: strings as they are, other values as JSON.
  else for (const e of events) body += `${typeof e.value === 'string' ? e.value : JSON.stringify(e.value)}\n`;
  return prev === undefined ? { body, next, count: events.length } : { body, next, prev, count: events.length };
}
