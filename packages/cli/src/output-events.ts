/**
 * Line events of `logsrv run` written straight into NDJSON bytes, stamped for the sender
 * (`HttpSender.sendStamped`): one buffer per read of the command's output instead of a string and
 * an object per line, so the agent's cost per line is a copy of its bytes.
 *
 * An event reads `{<base>,"key":K,"ts":T,"producer":P,"seq":N,"value":"…"[,"attrs":{"partial":true}]}`;
 * `value` is the line's text JSON-escaped exactly as JSON.stringify escapes it (`\"`, `\\`, the
 * short escapes, `\u00xx` for other control characters; UTF-8 is copied as it is).
 *
 * Ownership: events are written into a slab; {@link flush} hands what was written since the last
 * flush to the sender, which owns those bytes until it no longer holds their events
 * (`HttpSender.heldFromSeq` is past them: acknowledged, or copied into its spool file). A full
 * slab is written again only then: a few slabs go round instead of a new 1 MiB buffer per MiB of
 * output, whose garbage (collected late: V8 sees little JS allocation here) made most of the
 * agent's RSS.
 * The caller flushes before anything else may give the sender an event (order and seq are the
 * sender's), i.e. at the end of every synchronous step that wrote events.
 */
import type { HttpSender } from '@logsrv/client/agent';
import type { PieceEnd } from './output-lines.js';

const SLAB_BYTES = 1024 * 1024;
/** Full slabs kept for reuse; past this many the oldest is left to the GC. */
const SPARE_SLABS = 4;
/** `"` and `\`, and the short escapes of JSON.stringify; 0 = `\u00xx`. */
const ESCAPE = new Uint8Array(128);
ESCAPE[0x22] = 0x22;
ESCAPE[0x5c] = 0x5c;
ESCAPE[0x08] = 0x62; // b
ESCAPE[0x09] = 0x74; // t
ESCAPE[0x0a] = 0x6e; // n
ESCAPE[0x0c] = 0x66; // f
ESCAPE[0x0d] = 0x72; // r
const HEX = Buffer.from('0123456789abcdef');
const VALUE = Buffer.from(',"value":"');
const LINE_END = Buffer.from('"}\n');
const PARTIAL_END = Buffer.from('","attrs":{"partial":true}}\n');
/** Most bytes besides the value: seq digits and the fixed parts. */
const FIXED_BYTES = 20 + VALUE.length + PARTIAL_END.length;

/** Writes the decimal digits of `n` (a non-negative safe integer) at `pos`; returns the end. */
export function writeDigits(out: Uint8Array, pos: number, n: number): number {
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = pos + digits;
  let i = end;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    out[--i] = 0x30 + (n - q * 10);
    n = q;
  }
  out[--i] = 0x30 + n;
  return end;
}

export class EventWriter {
  private slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  /** Start of what the next flush hands over. */
  private from = 0;
  private pos = 0;
  private count = 0;
  /** Full slabs, oldest first, each with the seq after its last event: free once the sender's heldFromSeq reaches it. */
  private readonly spare: { slab: Buffer; end: number }[] = [];

  constructor(private readonly sender: Pick<HttpSender, 'sendStamped' | 'nextSeq' | 'heldFromSeq'>) {}

  /** A whole line, its bytes valid UTF-8 (`src[start..end-1]`). `head` is from {@link EventWriter.head}. */
  line(head: Buffer, src: Buffer, start: number, end: number): void {
    this.room(head.length + FIXED_BYTES + 6 * (end - start));
    const out = this.slab;
    let pos = this.begin(head);
    for (let i = start; i < end; i++) {
      const b = src[i] as number;
      if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
        out[pos++] = b;
        continue;
      }
      out[pos++] = 0x5c;
      const e = b < 0x80 ? (ESCAPE[b] as number) : 0;
      if (e !== 0) out[pos++] = e;
      else {
        out[pos++] = 0x75; // u00xx
        out[pos++] = 0x30;
        out[pos++] = 0x30;
        out[pos++] = HEX[b >> 4] as number;
        out[pos++] = HEX[b & 15] as number;
      }
    }
    this.pos = pos;
    this.end(LINE_END);
  }

  /** A piece as text (the string path of output-lines.ts). */
  text(head: Buffer, text: string, end: PieceEnd): void {
    const json = JSON.stringify(text);
    // `json` without its quotes: the writer adds its own.
    this.room(head.length + FIXED_BYTES + 3 * json.length);
    this.pos = this.begin(head);
    this.pos += this.slab.write(json.slice(1, -1), this.pos);
    this.end(end === 'line' ? LINE_END : PARTIAL_END);
  }

  /** Hands the events written since the last flush to the sender. */
  flush(): void {
    if (this.count === 0) return;
    const block = this.slab.subarray(this.from, this.pos);
    const count = this.count;
    this.from = this.pos;
    this.count = 0;
    this.sender.sendStamped(block, count);
  }

  /** The fixed start of the events of one stream read at `ts`: `{…base…,"key":K,"ts":T,"producer":P,"seq":`. */
  static head(baseAndKey: string, ts: number, producerJson: string): Buffer {
    return Buffer.from(`${baseAndKey},"ts":${ts},"producer":${producerJson},"seq":`);
  }

  // The fixed parts are copied with Uint8Array#set and the seq's digits written here: per line,
  // Buffer#copy and Buffer#write (a call into C++ each) cost more than the line's own bytes.
  private begin(head: Buffer): number {
    const out = this.slab;
    let pos = this.pos;
    out.set(head, pos);
    pos = writeDigits(out, pos + head.length, this.sender.nextSeq + this.count);
    out.set(VALUE, pos);
    return pos + VALUE.length;
  }

  private end(tail: Buffer): void {
    this.slab.set(tail, this.pos);
    this.pos += tail.length;
    this.count++;
  }

  /** Makes sure `n` bytes fit after `pos`; a new (or free spare) slab takes over what was not flushed yet. */
  private room(n: number): void {
    if (this.pos + n <= this.slab.length) return;
    const old = this.slab;
    const keep = this.pos - this.from;
    const oldest = this.spare[0];
    if (oldest && oldest.end <= this.sender.heldFromSeq && oldest.slab.length >= keep + n) {
      this.spare.shift();
      this.slab = oldest.slab;
    } else this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, keep + n));
    old.copy(this.slab, 0, this.from, this.pos);
    // What `old` holds before `from` was flushed: events before the sender's nextSeq.
    if (old.length === SLAB_BYTES) {
      this.spare.push({ slab: old, end: this.sender.nextSeq });
      if (this.spare.length > SPARE_SLABS) this.spare.shift();
    }
    this.from = 0;
    this.pos = keep;
  }
}
