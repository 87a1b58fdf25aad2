/**
 * Splits a byte stream into lines for NDJSON ingest, with bounded memory: a partial line is kept
 * only up to `maxLineBytes`; past that the line is reported as too large and its remaining bytes
 * are skipped up to the next newline. Lines are split on raw `\n` bytes before decoding, so a
 * multi-byte UTF-8 character split across chunks is never cut; each line is then checked for
 * valid UTF-8 on its own, so one bad line does not sink its neighbours.
 */
import { isUtf8 } from 'node:buffer';
import { formatBytes } from '@logsrv/protocol';

export type LineSink = (index: number, text: string | null, error: { reason: 'line_too_large' | 'invalid_utf8'; error: string } | null) => void;

const NL = 0x0a;

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  /** Bytes of the current line seen so far while it is being skipped as oversized. */
  private skipping = -1;
  private index = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
  ) {}

  /** Lines seen so far, blank ones included (they count for 0-based line numbers). */
  get lines(): number {
    return this.index;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(NL);
    if (nl === -1) {
      this.keep(chunk);
      return;
    }
    // The first line of this chunk completes whatever was carried over.
    if (this.carryLen > 0 || this.skipping >= 0) {
      this.keep(chunk.subarray(0, nl));
      this.finishCarried();
      start = nl + 1;
      nl = chunk.indexOf(NL, start);
    }
    const lastNl = chunk.lastIndexOf(NL);
    if (nl !== -1 && lastNl >= start) {
      this.completeRegion(chunk, start, lastNl);
      start = lastNl + 1;
    }
    if (start < chunk.length) this.keep(chunk.subarray(start));
  }

  /** Flushes a final line that had no trailing newline. */
  end(): void {
    if (this.carryLen > 0 || this.skipping >= 0) this.finishCarried();
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    if (this.skipping >= 0) {
      this.skipping += part.length;
      return;
    }
    if (this.carryLen + part.length > this.maxLineBytes) {
      this.skipping = this.carryLen + part.length;
      this.carry = [];
      this.carryLen = 0;
      return;
    }
    // Copy: the caller may reuse its chunk buffer.
    this.carry.push(Buffer.from(part));
    this.carryLen += part.length;
  }

  private finishCarried(): void {
    if (this.skipping >= 0) {
      const n = this.skipping;
      this.skipping = -1;
      this.tooLarge(n);
      return;
    }
    const line = this.carry.length === 1 ? (this.carry[0] as Buffer) : Buffer.concat(this.carry, this.carryLen);
    this.carry = [];
    this.carryLen = 0;
    this.emitBytes(line, 0, line.length);
  }

  /** `buf[start..end)` holds only whole lines separated by `\n` (end is the last newline). */
  private completeRegion(buf: Buffer, start: number, end: number): void {
    // Fast path: one UTF-8 check and one decode for all lines of the region, then a string split.
    if (isUtf8(buf.subarray(start, end))) {
      const text = buf.toString('utf8', start, end);
      const regionFits = end - start <= this.maxLineBytes;
      let from = 0;
      for (;;) {
        const at = text.indexOf('\n', from);
        const line = at === -1 ? text.slice(from) : text.slice(from, at);
        if (!regionFits && line.length * 3 > this.maxLineBytes && Buffer.byteLength(line) > this.maxLineBytes) {
          this.tooLarge(Buffer.byteLength(line));
        } else {
          this.emitText(line);
        }
        if (at === -1) break;
        from = at + 1;
      }
      return;
    }
    let from = start;
    for (;;) {
      const at = buf.indexOf(NL, from);
      const stop = at === -1 || at > end ? end : at;
      this.emitBytes(buf, from, stop);
      if (stop === end) break;
      from = stop + 1;
    }
  }

  private emitBytes(buf: Buffer, start: number, end: number): void {
    if (end - start > this.maxLineBytes) {
      this.tooLarge(end - start);
      return;
    }
    const part = buf.subarray(start, end);
    if (!isUtf8(part)) {
      this.sink(this.index++, null, { reason: 'invalid_utf8', error: 'line is not valid UTF-8' });
      return;
    }
    this.emitText(part.toString('utf8'));
  }

  private emitText(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    this.sink(this.index++, text, null);
  }

  private tooLarge(n: number): void {
    this.sink(this.index++, null, {
      reason: 'line_too_large',
      error: `line too large: ${formatBytes(n)}, limit ${formatBytes(this.maxLineBytes)} (--max-line-bytes); split long output into several events`,
    });
  }
}
