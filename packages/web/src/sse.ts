/**
 * A Server-Sent Events reader over `fetch` (WHATWG HTML, "Server-sent events", §9.2.6 parsing).
 * `EventSource` cannot send an `Authorization` header, and the token must never go in a URL, so
 * the stream is read and parsed here.
 *
 * The tail contract (docs/tail.md): `event: event` frames carry an `id:`; `end` stops following;
 * `lagged` names the last id sent and asks the client to resume from it; `error` asks it to
 * reconnect; comments (heartbeats) are ignored. On any drop the reader reconnects with
 * `Last-Event-ID` set to the last id received, so nothing is skipped and nothing repeats.
 */
import { ApiError, authHeaders, signOut } from './api.ts';

export interface SseFrame {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * Incremental parser: feed it decoded text as it arrives, get whole frames back. Handles CRLF, CR
 * and LF line ends (also split across chunks), multi-line `data:`, comments, and the optional
 * space after the colon.
 */
export class SseParser {
  private buf = '';
  private id: string | undefined;
  private event = '';
  private data: string[] = [];
  private sawData = false;
  /** A CR ended the previous chunk: an LF starting the next one belongs to it. */
  private pendingCr = false;

  push(text: string): SseFrame[] {
    const out: SseFrame[] = [];
    let s = text;
    if (this.pendingCr && s.startsWith('\n')) s = s.slice(1);
    this.pendingCr = false;
    this.buf += s;
    let start = 0;
    for (;;) {
      let end = -1;
      let next = -1;
      for (let i = start; i < this.buf.length; i++) {
        const c = this.buf.charCodeAt(i);
        if (c === 10) {
          end = i;
          next = i + 1;
          break;
        }
        if (c === 13) {
          end = i;
          if (i + 1 < this.buf.length) next = this.buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
          else {
            next = i + 1;
            this.pendingCr = true;
          }
          break;
        }
      }
      if (end < 0) break;
      this.line(this.buf.slice(start, end), out);
      start = next;
    }
    this.buf = this.buf.slice(start);
    return out;
  }

  private line(line: string, out: SseFrame[]): void {
    if (line === '') {
      if (this.sawData || this.id !== undefined) out.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
      this.id = undefined;
      this.event = '';
      this.data = [];
      this.sawData = false;
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.sawData = true;
    } else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    // `retry` is honoured by the caller's own backoff.
  }
}

export type TailStatus = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'stopped' | 'error';

export interface TailOptions<T> {
  /** `/v1/sessions/<s>/tail` (no query string). */
  path: string;
  /** Start after this id; null reads the whole history first. */
  after: string | null;
  /** Events of one network read, in order. */
  onEvents: (events: T[], lastId: string) => void;
  onStatus: (status: TailStatus, detail?: string) => void;
}

/** Follows a tail until `end`, a refusal, or `stop()`. Reconnects with backoff on any drop. */
export function followTail<T>(opts: TailOptions<T>): { stop: () => void } {
  let lastId = opts.after;
  let stopped = false;
  let controller: AbortController | null = null;
  let backoffMs = 250;

  const run = async (): Promise<void> => {
    let attempt = 0;
    while (!stopped) {
      opts.onStatus(attempt === 0 ? 'connecting' : 'reconnecting');
      controller = new AbortController();
      let ended = false;
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() };
        // The first request says where to start in the URL; a reconnect uses the standard header
        // (which the server prefers over `after`).
        let url = opts.path;
        if (lastId !== null && attempt === 0) url = `${opts.path}?after=${encodeURIComponent(lastId)}`;
        else if (lastId !== null) headers['last-event-id'] = lastId;
        attempt++;
        const res = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
        if (!res.ok || !res.body) {
          let message = `${res.status} ${res.statusText}`;
          try {
            const body = (await res.json()) as { error?: { message?: string } };
            if (body.error?.message) message = body.error.message;
          } catch {}
          if (res.status === 401) {
            signOut(`The server did not accept the token: ${message}`);
            opts.onStatus('error', message);
            return;
          }
          if (res.status >= 400 && res.status < 500) throw new ApiError(res.status, 'tail', message);
          throw new Error(message);
        }
        opts.onStatus('live');
        backoffMs = 250;
        const parser = new SseParser();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const batch: T[] = [];
          for (const f of parser.push(value)) {
            if (f.event === 'event' && f.id !== undefined) {
              batch.push(JSON.parse(f.data) as T);
              lastId = f.id;
            } else if (f.event === 'end') {
              ended = true;
            } else if (f.event === 'lagged') {
              const d = JSON.parse(f.data) as { lastId?: string };
              if (d.lastId) lastId = d.lastId;
            } else if (f.id !== undefined && f.id !== '') {
              // `id:` alone (from=now): the resume point before any event.
              lastId = f.id;
            }
          }
          if (batch.length > 0 && lastId !== null) opts.onEvents(batch, lastId);
          if (ended) break;
        }
        if (ended) {
          stopped = true;
          opts.onStatus('ended');
          controller.abort();
          return;
        }
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError) {
          opts.onStatus('error', err.message);
          return;
        }
      }
      if (stopped) return;
      opts.onStatus('reconnecting');
      await new Promise((r) => setTimeout(r, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 10_000);
    }
  };
  run().catch((err: unknown) => opts.onStatus('error', String(err)));
  return {
    stop: () => {
      stopped = true;
      controller?.abort();
      opts.onStatus('stopped');
    },
  };
}
