/**
 * The ingest workload: NDJSON events of ~200 bytes, every line different from every other line of
 * the run. Why it matters: a body sent over and over parses ~30 % faster (hot caches, repeated
 * strings) and flatters the figure.
 *
 * Bodies are generated once, before timing, as templates with fixed-width holes; `stamp()` writes a
 * fresh line number (and the session derived from it) into the holes just before each send. That
 * costs ~20 byte stores per line, so generation is not measured and no body is ever sent twice.
 *
 * Sessions: a producer sends its lines in runs of 100 of one session (an agent flushing a command's
 * output), 400 sessions are live at any time, each gets 1000 events, then a new one takes its slot.
 * So a 100-event request holds one session and a 1000-event request ten, and a group-commit
 * transaction touches the (session, ms, seq) index in a few places, not only at its end. (Lines
 * interleaved from 400 sessions would dirty ~400 index pages per transaction: on this kind of
 * machine that alone cuts bare SQLite to ~40k rows/s at 1000 rows per transaction.)
 */

const SESSIONS_LIVE = 400;
const EVENTS_PER_SESSION = 1000;
const RUN_LINES = 100;
const LINE_NO_DIGITS = 12;
const SESSION_HEX_DIGITS = 8;

/** An NDJSON body with holes; `buf` is owned by whoever sends it, and is rewritten by `stamp()`. */
export interface BodyTemplate {
  buf: Buffer;
  lines: number;
  /** Byte offset of each line's 12-digit line number (inside the event's value). */
  lineNoAt: Int32Array;
  /** Byte offset of each line's 8-hex-digit session number. */
  sessionAt: Int32Array;
}

/** A small seeded PRNG (xorshift32): reproducible bodies, and cheap. */
export function createRng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** The session number of a line: runs of 100 lines, 400 live sessions, each 1000 events long. */
export function sessionOf(lineNo: number): number {
  return Math.floor(lineNo / (SESSIONS_LIVE * EVENTS_PER_SESSION)) * SESSIONS_LIVE + (Math.floor(lineNo / RUN_LINES) % SESSIONS_LIVE);
}

const WORDS = (
  'compile link test fetch resolve module package cache hit miss warn error retry timeout build step ' +
  'layer image push pull upload download checksum verify install target source output bytes done took ' +
  'worker queue shard index commit flush open close read write socket request response handler route'
).split(' ');
const KEYS = ['stdout', 'stdout', 'stdout', 'stderr'];
const COMPONENTS = ['builder', 'runner', 'agent', 'fetcher', 'api'];
const LEVELS = ['info', 'info', 'info', 'debug', 'warn', 'error'];
const STEPS = ['checkout', 'install', 'compile', 'test', 'package', 'deploy'];

function pick<T>(rng: () => number, from: readonly T[]): T {
  return from[Math.floor(rng() * from.length)] as T;
}

function text(rng: () => number, length: number): string {
  let s = '';
  while (s.length < length) {
    s += rng() < 0.15 ? `${Math.floor(rng() * 0xffffffff).toString(16)} ` : `${pick(rng, WORDS)} `;
  }
  return s.slice(0, Math.max(0, length));
}

const LINE_NO_HOLE = '0'.repeat(LINE_NO_DIGITS);
const SESSION_HOLE = '0'.repeat(SESSION_HEX_DIGITS);

/**
 * One line with holes: `[head, tail]` around the session hole, and where the line-number hole sits
 * in `tail`. Four lines in five are command output (a string value, little metadata); the fifth is
 * a structured event with an object value, which the server re-serializes, and full metadata.
 */
function lineParts(rng: () => number, tag: string, nowMs: number): { head: string; tail: string; lineNoInTail: number } {
  const head = `{"session":"bench-${tag}-`;
  const ts = nowMs - Math.floor(rng() * 1000);
  // ~200 bytes per line on average, 170..230.
  const want = 170 + Math.floor(rng() * 61);
  if (rng() < 0.2) {
    const meta = `"ts":${ts},"component":"${pick(rng, COMPONENTS)}","level":"${pick(rng, LEVELS)}","attrs":{"host":"worker-${Math.floor(rng() * 64)}","pid":${1000 + Math.floor(rng() * 60000)}}}`;
    const pre = `${SESSION_HOLE}","key":"api.latency","value":{"n":"`;
    const rest = `","ms":${(rng() * 500).toFixed(2)},"route":"/v1/`;
    const fixed = head.length + pre.length + LINE_NO_DIGITS + rest.length + 3 + meta.length;
    const tail = `${pre}${LINE_NO_HOLE}${rest}${text(rng, want - fixed)
      .trimEnd()
      .replace(/ /g, '/')}"},${meta}`;
    return { head, tail, lineNoInTail: pre.length };
  }
  const meta = `"ts":${ts},"step":"${pick(rng, STEPS)}"}`;
  const pre = `${SESSION_HOLE}","key":"${pick(rng, KEYS)}","value":"`;
  const fixed = head.length + pre.length + LINE_NO_DIGITS + 3 + meta.length;
  const tail = `${pre}${LINE_NO_HOLE} ${text(rng, want - fixed - 1)}",${meta}`;
  return { head, tail, lineNoInTail: pre.length };
}

/** A body of `lines` events with holes; call `stamp()` before sending it. `tag` names the run. */
export function makeBody(lines: number, rng: () => number, tag: string, nowMs = Date.now()): BodyTemplate {
  const parts: string[] = [];
  const lineNoAt = new Int32Array(lines);
  const sessionAt = new Int32Array(lines);
  let at = 0;
  for (let i = 0; i < lines; i++) {
    const p = lineParts(rng, tag, nowMs);
    sessionAt[i] = at + p.head.length;
    lineNoAt[i] = at + p.head.length + p.lineNoInTail;
    const line = `${p.head}${p.tail}\n`;
    parts.push(line);
    at += line.length; // all ASCII: characters are bytes
  }
  return { buf: Buffer.from(parts.join(''), 'latin1'), lines, lineNoAt, sessionAt };
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Writes line numbers `firstLine..firstLine+lines-1` (and their sessions) into the template. */
export function stamp(t: BodyTemplate, firstLine: number): void {
  const buf = t.buf;
  for (let i = 0; i < t.lines; i++) {
    let n = firstLine + i;
    let s = sessionOf(n);
    const a = t.lineNoAt[i] as number;
    for (let d = LINE_NO_DIGITS - 1; d >= 0; d--) {
      buf[a + d] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    const b = t.sessionAt[i] as number;
    for (let d = SESSION_HEX_DIGITS - 1; d >= 0; d--) {
      buf[b + d] = HEX[s & 15] as number;
      s >>>= 4;
    }
  }
}

/**
 * One syslog datagram with holes (for `syslog-ingest`), ~200 bytes like the NDJSON lines: three in
 * four RFC 5424 (`RSYSLOG_SyslogProtocol23Format`), one in four RFC 3164 with an RFC 3339 time and
 * a `TAG[pid]:` (`RSYSLOG_ForwardFormat`). The session hole is in the APP-NAME/TAG, so logsrv's
 * default session (`{hostname}/{app}`) follows the same session pattern as the NDJSON workload; the
 * line-number hole starts the MSG. Ends with a newline the sender does not send.
 */
export function makeSyslog(rng: () => number, tag: string, nowMs = Date.now()): BodyTemplate {
  const pri = (16 + Math.floor(rng() * 8)) * 8 + Math.floor(rng() * 8);
  const ts = new Date(nowMs - Math.floor(rng() * 1000)).toISOString();
  const pid = 1000 + Math.floor(rng() * 60000);
  const want = 170 + Math.floor(rng() * 61);
  const host = `bench-${tag}-host${Math.floor(rng() * 8)}`;
  const head = rng() < 0.75 ? `<${pri}>1 ${ts} ${host} s-` : `<${pri}>${ts} ${host} s-`;
  const mid = head.includes('>1 ') ? ` ${pid} - - ` : `[${pid}]: `;
  const fixed = head.length + SESSION_HEX_DIGITS + mid.length + LINE_NO_DIGITS + 1;
  const line = `${head}${SESSION_HOLE}${mid}${LINE_NO_HOLE} ${text(rng, want - fixed).trimEnd()}\n`;
  return {
    buf: Buffer.from(line, 'latin1'),
    lines: 1,
    sessionAt: Int32Array.of(head.length),
    lineNoAt: Int32Array.of(head.length + SESSION_HEX_DIGITS + mid.length),
  };
}
