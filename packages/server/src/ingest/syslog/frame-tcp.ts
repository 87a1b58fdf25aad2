/**
 * Syslog over TCP, split into messages (RFC 6587 §3.4). Each frame is either octet-counted
 * (`MSG-LEN SP SYSLOG-MSG`, §3.4.1; rsyslog's omfwd `TCP_Framing="octet-counted"`, `logger
 * --octet-count`) or ends at LF (non-transparent framing, §3.4.2; the default of most senders).
 * A syslog message starts with `<`, so a frame starting with a digit is octet-counted; senders may
 * switch per frame and this follows them. Works on bytes: octet counts are bytes, and a multi-byte
 * character may be split across reads.
 *
 * Memory is bounded by `maxFrameBytes`: a longer frame is reported once (`onBad`) and its
 * bytes are skipped, up to its count or its LF. Hand-written (no npm package does this framing),
 * so fuzzed: any split of a stream into chunks gives the same frames (test/syslog-frame.test.ts).
 */

const LF = 0x0a;
const SP = 0x20;
/** Digits of an octet count: enough for any frame this accepts (and a bit), not more. */
const MAX_COUNT_DIGITS = 10;

export class SyslogFramer {
  private rest: Buffer = Buffer.alloc(0);
  /** Bytes of an oversize octet-counted frame still to skip. */
  private skip = 0;
  /** Skipping an oversize LF-framed frame up to its LF. */
  private skipLine = false;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onBad: (why: 'too_large' | 'truncated') => void,
  ) {}

  push(chunk: Buffer): void {
    let data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - at);
        this.skip -= n;
        at += n;
        if (this.skip > 0) break;
      }
      if (this.skipLine) {
        const lf = data.indexOf(LF, at);
        if (lf === -1) {
          at = data.length;
          break;
        }
        this.skipLine = false;
        at = lf + 1;
      }
      if (at >= data.length) break;
      const c = data[at] as number;
      if (c >= 0x31 && c <= 0x39) {
        const r = this.octetCounted(data, at);
        if (r === 'more') break;
        if (r !== 'not') {
          at = r;
          continue;
        }
      }
      const lf = data.indexOf(LF, at);
      if (lf === -1) {
        if (data.length - at > this.maxFrameBytes) {
          this.onBad('too_large');
          this.skipLine = true;
          at = data.length;
        }
        break;
      }
      if (lf - at > this.maxFrameBytes) this.onBad('too_large');
      else if (lf > at) this.emit(data.subarray(at, lf));
      at = lf + 1;
    }
    // A copy, so a small rest does not pin a large chunk.
    this.rest = at >= data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(at));
    data = this.rest;
  }

  /** What is left when the connection ends: an unterminated LF frame is a frame; a cut octet-counted one is lost (reported). */
  end(): void {
    const rest = this.rest;
    this.rest = Buffer.alloc(0);
    if (rest.length === 0 || this.skipLine || this.skip > 0) return;
    const c = rest[0] as number;
    if (c >= 0x31 && c <= 0x39 && /^\d+ /.test(rest.subarray(0, MAX_COUNT_DIGITS + 1).toString('latin1'))) this.onBad('truncated');
    else this.emit(rest);
  }

  /** At `at` a digit: the end of the octet-counted frame, 'more' to wait for bytes, 'not' when this is no count. */
  private octetCounted(data: Buffer, at: number): number | 'more' | 'not' {
    let i = at;
    let len = 0;
    while (i < data.length && i - at < MAX_COUNT_DIGITS) {
      const d = data[i] as number;
      if (d === SP) break;
      if (d < 0x30 || d > 0x39) return 'not';
      len = len * 10 + (d - 0x30);
      i++;
    }
    if (i >= data.length) return 'more';
    if (data[i] !== SP) return 'not';
    const start = i + 1;
    if (len > this.maxFrameBytes) {
      this.onBad('too_large');
      this.skip = len;
      return start;
    }
    if (data.length - start < len) return 'more';
    this.emit(data.subarray(start, start + len));
    return start + len;
  }

  private emit(frame: Buffer): void {
    // A CR before the LF (CRLF senders) is not part of the message.
    const end = frame.length > 0 && frame[frame.length - 1] === 0x0d ? frame.length - 1 : frame.length;
    if (end > 0) this.onFrame(end === frame.length ? frame : frame.subarray(0, end));
  }
}
