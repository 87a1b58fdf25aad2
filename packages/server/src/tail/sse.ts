/**
 * Server-Sent Events framing (WHATWG HTML, "Server-sent events": text/event-stream). A frame is
 * `field: value` lines ended by a blank line; a line starting with `:` is a comment. Every data
 * payload here is one line of JSON (JSON.stringify escapes CR and LF), so no frame needs
 * multi-line `data:`.
 */

/** Reconnection delay the browser's EventSource uses after a dropped connection. */
export const RETRY_MS = 1000;

/** An event frame: the id is what EventSource resends as `Last-Event-ID`. */
export function eventFrame(id: string, json: string): string {
  return `id: ${id}\nevent: event\ndata: ${json}\n\n`;
}

/** `end`, `lagged` and `error` frames: no id, so they never move the client's cursor. */
export function controlFrame(event: 'end' | 'lagged' | 'error', data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A comment: ignored by clients, keeps proxies and load balancers from closing an idle stream. */
export const HEARTBEAT = ': keep-alive\n\n';

/** The first bytes of every stream: the reconnection hint and a comment that flushes the headers. */
export const PREAMBLE = `retry: ${RETRY_MS}\n: logsrv tail\n\n`;

/**
 * Response headers. `X-Accel-Buffering: no` stops nginx from buffering the stream;
 * `no-transform` keeps proxies from compressing (and so buffering) it. The body is not chunked:
 * it ends when the server closes the connection (RFC 9112 §6.3), which an event stream does
 * anyway — so frames can be written to the socket as they are, one write each.
 */
export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'close',
  'x-accel-buffering': 'no',
};
