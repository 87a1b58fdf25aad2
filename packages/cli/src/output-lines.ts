/**
 * A command's output bytes → the text of line events, as `logsrv run` and `logsrv send` send them.
 *
 * - Decoding: UTF-8 through a streaming decoder, so a character split across two reads is
 *   joined, never cut; invalid bytes become U+FFFD (the replacement character), never an error.
 * - Line ends: `\n` and `\r\n` end a line (`end: 'line'`, the terminator is not part of the
 *   text). A bare `\r` — a progress bar redrawing its line — ends a segment too, sent at once with
 *   `end: 'cr'` so a viewer can draw it the way a terminal does (the next segment replaces it);
 *   empty `\r` segments carry nothing and are not sent. Nothing is merged or dropped: every
 *   progress state a terminal would have shown is sent.
 * - Long lines: a line whose event value would be over `maxValueBytes` once JSON-encoded is sent
 *   as consecutive pieces, all but the last with `end: 'partial'`; joining them gives the line
 *   back. Memory for an unfinished line is bounded the same way.
 * - Unfinished lines: `flushPartial()` (called by the owner after a quiet period) sends what has
 *   no line end yet — a prompt, a progress line — as `partial`; the rest of the line follows
 *   later as its own event.
 *
 * Known limit: a `\r\n` whose two bytes arrive on either side of a `flushPartial()` is sent as a
 * `cr` segment rather than a `line` (the text is the same).
 */
import { StringDecoder } from 'node:string_decoder';

export type PieceEnd = 'line' | 'cr' | 'partial';
export type PieceSink = (text: string, end: PieceEnd) => void;

/** Bytes of `s` as a JSON string value, without the quotes. */
export function encodedBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s)) - 2;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** Length of the longest-ish prefix of `s` whose JSON encoding fits `max` bytes (never splits a surrogate pair; at least 1). */
export function fitPrefix(s: string, max: number, total = encodedBytes(s)): number {
  let k = Math.max(1, Math.floor(s.length * (max / total)));
  for (;;) {
    if (k > 1 && k < s.length && isHighSurrogate(s.charCodeAt(k - 1))) k--;
    const e = encodedBytes(s.slice(0, k));
    if (e <= max || k === 1) return k;
    k = Math.max(1, Math.floor(k * (max / e) * 0.99));
  }
}

export class OutputLines {
  private readonly decoder = new StringDecoder('utf8');
  /** Text after the last line end; may end with a `\r` whose meaning the next byte decides. */
  private pending = '';
  /** The last flushPartial() sent a segment ended by `\r`: a `\n` first thing next was its CRLF. */
  private swallowLf = false;

  constructor(
    private readonly maxValueBytes: number,
    private readonly sink: PieceSink,
  ) {}

  /** Text is waiting for its line end (the owner arms its quiet-period timer). */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  push(chunk: Buffer): void {
    this.feed(this.decoder.write(chunk));
  }

  /** The stream ended: sends the last line even without a line end. */
  end(): void {
    this.feed(this.decoder.end());
    const p = this.pending;
    this.pending = '';
    if (p.length === 0) return;
    if (p.endsWith('\r')) {
      if (p.length > 1) this.emit(p.slice(0, -1), 'cr');
    } else this.emit(p, 'line');
  }

  /** Sends the unfinished line as it is now (see the file comment). */
  flushPartial(): void {
    const p = this.pending;
    if (p.length === 0) return;
    this.pending = '';
    if (p.endsWith('\r')) {
      if (p.length > 1) this.emit(p.slice(0, -1), 'cr');
      this.swallowLf = true;
    } else this.emit(p, 'partial');
  }

  private feed(input: string): void {
    if (input.length === 0) return;
    let text = input;
    if (this.swallowLf) {
      this.swallowLf = false;
      if (text.charCodeAt(0) === 0x0a) text = text.slice(1);
    }
    if (this.pending.length > 0) {
      text = this.pending + text;
      this.pending = '';
    }
    const n = text.length;
    let from = 0;
    let lf = text.indexOf('\n');
    // Most output has no `\r` at all: then this is -1 once and never searched again.
    let cr = text.indexOf('\r');
    for (;;) {
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        if (cr + 1 >= n) break; // `\r` last: CRLF or a redraw, the next data tells
        if (cr + 1 === lf) {
          this.emit(text.slice(from, cr), 'line');
          from = lf + 1;
          lf = text.indexOf('\n', from);
        } else {
          if (cr > from) this.emit(text.slice(from, cr), 'cr');
          from = cr + 1;
        }
        cr = text.indexOf('\r', from);
        continue;
      }
      if (lf === -1) break;
      this.emit(text.slice(from, lf), 'line');
      from = lf + 1;
      lf = text.indexOf('\n', from);
    }
    let rest = from === 0 ? text : text.slice(from);
    // Bound an unfinished line: send full pieces of it now, keep the tail.
    if (rest.length * 6 > this.maxValueBytes) {
      let total = encodedBytes(rest);
      while (total > this.maxValueBytes) {
        const k = fitPrefix(rest, this.maxValueBytes, total);
        this.sink(rest.slice(0, k), 'partial');
        rest = rest.slice(k);
        total = encodedBytes(rest);
      }
    }
    this.pending = rest;
  }

  private emit(text: string, end: PieceEnd): void {
    // Up to 6 bytes per UTF-16 unit once encoded (`\u0001`): shorter text always fits.
    if (text.length * 6 <= this.maxValueBytes) {
      this.sink(text, end);
      return;
    }
    let rest = text;
    let total = encodedBytes(rest);
    while (total > this.maxValueBytes) {
      const k = fitPrefix(rest, this.maxValueBytes, total);
      this.sink(rest.slice(0, k), 'partial');
      rest = rest.slice(k);
      total = encodedBytes(rest);
    }
    this.sink(rest, end);
  }
}
