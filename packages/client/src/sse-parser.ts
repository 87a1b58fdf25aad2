/**
 * An incremental text/event-stream parser (WHATWG HTML, "Server-sent events", §9.2.6 "Interpreting
 * an event stream"): lines end in CRLF, LF or CR; `:` starts a comment; `data` lines of one event
 * are joined with LF; a blank line dispatches; `id` sets the last event id even on an event that
 * carries no data (so a server can move a client's resume point without sending an event).
 * Bytes are decoded as a stream, so a UTF-8 character split across chunks stays whole.
 */

export interface SseMessage {
  /** `event` field, or `message` when absent. */
  event: string;
  data: string;
  /** The last event id in force when this message was dispatched ('' when none yet). */
  lastEventId: string;
}

export class SseParser {
  /**
   * The last event id in force after the latest dispatch (blank line) — what a reconnecting
   * client sends in `Last-Event-ID`. An `id` line of a frame still being read does not count.
   */
  lastEventId = '';
  /** The server's last `retry:` hint in ms, if any. */
  retryMs: number | undefined;
  private readonly decoder = new TextDecoder('utf-8');
  private line = '';
  private afterCR = false;
  private first = true;
  private data: string[] = [];
  private event = '';
  private idBuffer = '';

  constructor(private readonly onMessage: (m: SseMessage) => void) {}

  push(chunk: Uint8Array | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 && this.afterCR) {
        // The LF of a CRLF pair: the line already ended at the CR.
        this.afterCR = false;
        start = i + 1;
        continue;
      }
      this.afterCR = false;
      if (c === 10 || c === 13) {
        this.line += text.slice(start, i);
        this.processLine(this.line);
        this.line = '';
        start = i + 1;
        if (c === 13) this.afterCR = true;
      }
    }
    this.line += text.slice(start);
  }

  private processLine(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment (heartbeats)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored.
    }
  }

  private dispatch(): void {
    this.lastEventId = this.idBuffer;
    const event = this.event;
    const data = this.data;
    this.event = '';
    this.data = [];
    if (data.length === 0) return;
    this.onMessage({ event: event || 'message', data: data.join('\n'), lastEventId: this.lastEventId });
  }
}
