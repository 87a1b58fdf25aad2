/**
 * A command's output bytes → the text of line events, as `logsrv run` and `logsrv send` send them
 * (the stored form is described in @logsrv/protocol's terminal-line.ts).
 *
 * - Decoding: UTF-8 through a streaming decoder, so a character split across two reads is
 *   joined, never cut; invalid bytes become U+FFFD (the replacement character), never an error.
 * - Line ends: `\n` and `\r\n` end a line (`end: 'line'`, the terminator is not part of the
 *   text). A bare `\r` does not: it stays in the text, as do `\b` and escape sequences, so a
 *   renderer can replay the line the way a terminal drew it.
 * - Redraws go out at once: an unfinished line that holds a `\r` or `\b` (a progress bar, a
 *   spinner) is sent as it stands after every read, `end: 'partial'`, without waiting for the
 *   quiet period — its next piece continues it. Nothing is merged or dropped: every progress
 *   state is sent.
 * - Long lines: a line whose event value would be over `maxValueBytes` once JSON-encoded is sent
 *   as consecutive pieces, all but the last with `end: 'partial'`; joining them gives the line
 *   back. Memory for an unfinished line is bounded the same way.
 * - Unfinished lines: `flushPartial()` (called by the owner after a quiet period) sends what has
 *   no line end yet — a prompt — as `partial`; the rest of the line follows later as its own
 *   event.
 *
 * A `\r\n` whose two bytes arrive in different reads is sent as a piece ending in `\r` and an
 * empty line end: joined, that is the same line on screen.
 */
import { StringDecoder } from 'node:string_decoder';

export type PieceEnd = 'line' | 'partial';
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
  /** Text after the last line end, with no `\r` or `\b` in it (those go out at once). */
  private pending = '';

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
    if (p.length > 0) this.emit(p, 'line');
  }

  /** Sends the unfinished line as it is now (see the file comment). */
  flushPartial(): void {
    const p = this.pending;
    if (p.length === 0) return;
    this.pending = '';
    this.emit(p, 'partial');
  }

  private feed(input: string): void {
    if (input.length === 0) return;
    const text = this.pending.length > 0 ? this.pending + input : input;
    this.pending = '';
    let from = 0;
    let lf = text.indexOf('\n');
    while (lf !== -1) {
      // `\r\n` ends a line like `\n`; any other `\r` is part of the line's text.
      const end = lf > from && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
      this.emit(text.slice(from, end), 'line');
      from = lf + 1;
      lf = text.indexOf('\n', from);
    }
    if (from === text.length) return;
    let rest = from === 0 ? text : text.slice(from);
    // A redraw (progress bar, spinner) is shown at once, as the terminal showed it.
    if (rest.indexOf('\r') !== -1 || rest.indexOf('\b') !== -1) {
      this.emit(rest, 'partial');
      return;
    }
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
