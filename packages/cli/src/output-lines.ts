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
 *
 * Fast path (what makes `logsrv run` cheap per line): the whole lines of a read that is valid
 * UTF-8 are handed to the optional `lineSink` as byte ranges of the read — no string, no object
 * per line — when they fit `maxValueBytes` for sure. Everything else (the unfinished line, a line
 * continuing one from an earlier read, invalid bytes, long lines) takes the string path through
 * the decoder. Both give the same pieces; without a `lineSink` every piece is a string.
 */
import { isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';

export type PieceEnd = 'line' | 'partial';
export type PieceSink = (text: string, end: PieceEnd) => void;
/** A whole line (`end: 'line'`): bytes `start..end-1` of `buf`, valid UTF-8, its line end excluded; `buf` is only valid during the call. */
export type LineBytesSink = (buf: Buffer, start: number, end: number) => void;

const NL = 0x0a;
const CR = 0x0d;

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
  /** The decoder may hold the start of a character: the next read's first line takes the string path. */
  private carry = false;

  constructor(
    private readonly maxValueBytes: number,
    private readonly sink: PieceSink,
    private readonly lineSink: LineBytesSink | null = null,
  ) {}

  /** Text is waiting for its line end (the owner arms its quiet-period timer). */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  push(chunk: Buffer): void {
    let from = 0;
    if (this.lineSink !== null) {
      if (this.pending.length > 0 || this.carry) {
        // The line in progress continues in this read: up to its end it goes the string way.
        const lf = chunk.indexOf(NL);
        if (lf === -1) {
          this.slow(chunk);
          return;
        }
        this.feed(this.decoder.write(chunk.subarray(0, lf + 1)));
        this.carry = false;
        from = lf + 1;
      }
      const last = chunk.lastIndexOf(NL);
      if (last >= from && isUtf8(from === 0 && last === chunk.length - 1 ? chunk : chunk.subarray(from, last + 1))) {
        // Text up to 1/6 of the limit always fits once JSON-escaped; longer lines are cut by emit().
        const maxFast = Math.floor(this.maxValueBytes / 6);
        while (from <= last) {
          const lf = chunk.indexOf(NL, from);
          const end = lf > from && chunk[lf - 1] === CR ? lf - 1 : lf;
          if (end - from <= maxFast) this.lineSink(chunk, from, end);
          else this.emit(chunk.toString('utf8', from, end), 'line');
          from = lf + 1;
        }
      }
      if (from === chunk.length) return;
    }
    this.slow(from === 0 ? chunk : chunk.subarray(from));
  }

  private slow(bytes: Buffer): void {
    this.feed(this.decoder.write(bytes));
    this.carry = bytes.length > 0 && bytes[bytes.length - 1] !== NL;
  }

  /** The stream ended: sends the last line even without a line end. */
  end(): void {
    this.carry = false;
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
