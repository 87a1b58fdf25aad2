/**
 * One syslog message (a UDP datagram's text, or one TCP frame) into its parts. Two formats:
 *
 * - RFC 5424 §6: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`, `-` for
 *   a nil field, SD elements `[id name="value" ...]` with `\"`, `\\` and `\]` escaped; MSG may
 *   start with a UTF-8 BOM (dropped).
 * - RFC 3164 §4.1 as senders really write it: `<PRI>TIMESTAMP [HOSTNAME] TAG[PID]: MSG` where
 *   TIMESTAMP is `Mmm dd hh:mm:ss` (no year, no zone: the sender's local time, read as this
 *   server's) or RFC 3339 (rsyslog's forwarding templates); the TAG's colon may be missing
 *   (rsyslog's `RSYSLOG_ForwardFormat` writes `HOST TAG MSG`). A token after the timestamp that
 *   ends in `:` or holds `[` is a TAG, so a message from a local socket (no HOSTNAME) keeps its
 *   tag.
 *
 * Hand-written (no maintained npm parser handles both formats and rsyslog's colon-less TAG), so it
 * is fuzzed (test/syslog-parse.test.ts): it never throws and never loops; anything without a valid
 * `<PRI>` is refused with a reason.
 */

export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164';
  facility: number;
  severity: number;
  /** Epoch ms; null when the message has none (nil or absent). */
  ts: number | null;
  hostname: string | null;
  app: string | null;
  procid: string | null;
  msgid: string | null;
  /** Structured data by SD-ID, each a map of its params (a repeated name keeps its last value). */
  sd: Record<string, Record<string, string>> | null;
  msg: string;
}

export type SyslogParse = SyslogMessage | { error: string };

export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
const BSD_TS = /^([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2})(?= |$)/;

/** `now` (epoch ms) places a year-less RFC 3164 timestamp in the year that makes it closest to now. */
export function parseSyslog(text: string, now: number = Date.now()): SyslogParse {
  // Senders end frames and datagrams with a newline (or NUL) that is not part of the message.
  let end = text.length;
  while (end > 0) {
    const c = text.charCodeAt(end - 1);
    if (c !== 10 && c !== 13 && c !== 0) break;
    end--;
  }
  const s = end === text.length ? text : text.slice(0, end);
  if (s.charCodeAt(0) !== 60 /* < */) return { error: "no <PRI> at the start (a syslog message begins with '<' and a priority 0-191)" };
  const close = s.indexOf('>');
  if (close < 2 || close > 4) return { error: 'malformed <PRI>: 1 to 3 digits between < and >' };
  const priText = s.slice(1, close);
  if (!/^\d{1,3}$/.test(priText) || (priText.length > 1 && priText[0] === '0')) return { error: `malformed <PRI> ${JSON.stringify(priText)}` };
  const pri = Number(priText);
  if (pri > 191) return { error: `<PRI> ${pri} is over 191` };
  const facility = pri >> 3;
  const severity = pri & 7;
  const rest = s.slice(close + 1);
  if (/^[1-9]\d{0,2} /.test(rest)) return parse5424(rest, facility, severity);
  return parse3164(rest, facility, severity, now);
}

function parse5424(s: string, facility: number, severity: number): SyslogParse {
  let at = s.indexOf(' ') + 1; // past VERSION
  const header: string[] = [];
  for (let k = 0; k < 5; k++) {
    const sp = s.indexOf(' ', at);
    if (sp <= at) return { error: 'RFC 5424 header is cut short: expected TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA' };
    header.push(s.slice(at, sp));
    at = sp + 1;
  }
  const [tsText, hostname, app, procid, msgid] = header as [string, string, string, string, string];
  let ts: number | null = null;
  if (tsText !== '-') {
    ts = parse3339(tsText);
    if (ts === null) return { error: `RFC 5424 TIMESTAMP ${JSON.stringify(tsText)} is not an RFC 3339 time` };
  }
  if (at >= s.length) return { error: 'RFC 5424 message has no STRUCTURED-DATA (use - for none)' };
  let sd: Record<string, Record<string, string>> | null = null;
  if (s[at] === '-') at++;
  else if (s[at] === '[') {
    const r = parseSd(s, at);
    if ('error' in r) return r;
    sd = r.sd;
    at = r.at;
  } else return { error: `RFC 5424 STRUCTURED-DATA must be - or [id ...], got ${JSON.stringify(s.slice(at, at + 16))}` };
  let msg = '';
  if (at < s.length) {
    if (s[at] !== ' ') return { error: 'RFC 5424 STRUCTURED-DATA must be followed by a space and the MSG' };
    msg = s.slice(at + 1);
    if (msg.charCodeAt(0) === 0xfeff) msg = msg.slice(1);
  }
  return {
    format: 'rfc5424',
    facility,
    severity,
    ts,
    hostname: nil(hostname),
    app: nil(app),
    procid: nil(procid),
    msgid: nil(msgid),
    sd,
    msg,
  };
}

function nil(v: string): string | null {
  return v === '-' || v === '' ? null : v;
}

/** SD-ELEMENTs from `at` (a `[`): RFC 5424 §6.3. */
function parseSd(s: string, at: number): { sd: Record<string, Record<string, string>>; at: number } | { error: string } {
  // Null prototypes: an SD-ID or name `__proto__` is data, never the object's prototype.
  const sd: Record<string, Record<string, string>> = Object.create(null);
  while (s[at] === '[') {
    at++;
    const idEnd = nameEnd(s, at);
    if (idEnd === at) return { error: 'RFC 5424 SD-ID is empty' };
    const id = s.slice(at, idEnd);
    const params: Record<string, string> = Object.create(null);
    at = idEnd;
    while (s[at] === ' ') {
      at++;
      const ne = nameEnd(s, at);
      if (ne === at || s[ne] !== '=' || s[ne + 1] !== '"') return { error: `RFC 5424 SD-PARAM of [${id}] must be name="value"` };
      const name = s.slice(at, ne);
      at = ne + 2;
      let value = '';
      for (;;) {
        if (at >= s.length) return { error: `RFC 5424 SD-PARAM ${name} of [${id}] has no closing quote` };
        const c = s[at] as string;
        if (c === '\\' && (s[at + 1] === '"' || s[at + 1] === '\\' || s[at + 1] === ']')) {
          value += s[at + 1];
          at += 2;
        } else if (c === '"') {
          at++;
          break;
        } else {
          value += c;
          at++;
        }
      }
      params[name] = value;
    }
    if (s[at] !== ']') return { error: `RFC 5424 SD-ELEMENT [${id}] is not closed with ]` };
    at++;
    sd[id] = params;
  }
  return { sd, at };
}

/** End of an SD-NAME: printable US-ASCII except `=`, space, `]` and `"` (RFC 5424 §6). */
function nameEnd(s: string, at: number): number {
  let i = at;
  while (i < s.length && i - at < 32) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127 || c === 61 || c === 93 || c === 34) break;
    i++;
  }
  return i;
}

/** RFC 3339 to epoch ms by its fields (Date.parse was a third of a message's parse time), ranges checked. */
function parse3339(t: string): number | null {
  const m = RFC3339.exec(t);
  if (!m) return null;
  const [mo, d, h, mi, sec] = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return null;
  const ms = m[7] ? Number(m[7].slice(1, 4).padEnd(3, '0')) : 0;
  const zone = m[8] as string;
  const offset = zone === 'Z' || zone === 'z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  return Date.UTC(Number(m[1]), mo - 1, d, h, mi, sec, ms) - offset;
}

function parse3164(s: string, facility: number, severity: number, now: number): SyslogParse {
  let at = 0;
  let ts: number | null = null;
  const bsd = BSD_TS.exec(s);
  if (bsd) {
    ts = bsdTime(bsd, now);
    at = bsd[0].length;
  } else {
    const sp = s.indexOf(' ');
    const first = sp === -1 ? s : s.slice(0, sp);
    const t = parse3339(first);
    if (t !== null) {
      ts = t;
      at = first.length;
    }
  }
  let hostname: string | null = null;
  let app: string | null = null;
  let procid: string | null = null;
  let msg: string;
  if (ts === null) {
    // No timestamp: RFC 3164 §4.3.3 says the whole rest is the message.
    msg = s;
  } else {
    if (s[at] === ' ') at++;
    let word = token(s, at);
    if (word.length > 0 && !isTag(word)) {
      hostname = word;
      at += word.length;
      if (s[at] === ' ') at++;
      word = token(s, at);
    }
    const tag = /^([^\s[:]{1,48})(?:\[([^\]\s]{0,128})\])?:?/.exec(s.slice(at, at + 200));
    if (tag && word.length > 0) {
      app = tag[1] as string;
      procid = tag[2] ?? null;
      at += tag[0].length;
      if (s[at] === ' ') at++;
    }
    msg = s.slice(at);
  }
  return { format: 'rfc3164', facility, severity, ts, hostname, app, procid, msgid: null, sd: null, msg };
}

/** The next space-free token from `at`. */
function token(s: string, at: number): string {
  const sp = s.indexOf(' ', at);
  return sp === -1 ? s.slice(at) : s.slice(at, sp);
}

function isTag(word: string): boolean {
  return word.endsWith(':') || word.includes('[');
}

function bsdTime(m: RegExpExecArray, now: number): number | null {
  const month = MONTHS.indexOf(m[1] as string);
  if (month < 0) return null;
  const day = Number((m[2] as string).trim());
  const [h, mi, sec] = [Number(m[3]), Number(m[4]), Number(m[5])];
  if (day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60) return null;
  const year = new Date(now).getFullYear();
  let best: number | null = null;
  for (const y of [year - 1, year, year + 1]) {
    const t = new Date(y, month, day, h, mi, sec).getTime();
    if (best === null || Math.abs(t - now) < Math.abs(best - now)) best = t;
  }
  return best;
}
