/**
 * A batch of events in columns ({@link EventColumns}, what the writer works on), and the packed
 * form in which batches cross between threads ({@link PackedEvents}).
 *
 * Why packed: postMessage structured-clones its payload, string by string. Measured here per
 * event of a 1000-event batch: event objects ~3 µs; one array per column 0.8 µs to send and
 * 1.5 µs to receive; all text in one string with a length table 0.5 µs to send and 0.33 µs to
 * receive and unpack — and receiving is the writer thread's time, the pipeline's bottleneck.
 *
 * Why the text is cut into chunks: V8 puts a string over 128 KiB in its large-object space, and
 * making one there costs page faults and zeroing — a 1000-event batch (~135 K chars) took 0.78 µs
 * per event to clone where 900 events took 0.19 µs (syslog events, ~285 chars each: 1.9 µs vs
 * 0.27 µs), paid mostly by the receiving thread. Chunks of at most {@link MAX_CHUNK_CHARS} stay
 * clear of that, one-byte or two-byte.
 */
import type { NormalizedEvent } from '@logsrv/protocol';

export interface EventColumns {
  n: number;
  session: string[];
  key: string[];
  value: string[];
  vjson: Uint8Array;
  ts: (number | null)[];
  component: (string | null)[];
  user: (string | null)[];
  terminal: (string | null)[];
  step: (string | null)[];
  level: (string | null)[];
  attrs: (string | null)[];
  producer: (string | null)[];
  pseq: (number | null)[];
}

/** Columns back into event objects. */
export function fromColumns(c: EventColumns): NormalizedEvent[] {
  const events: NormalizedEvent[] = new Array(c.n);
  for (let i = 0; i < c.n; i++) {
    events[i] = {
      session: c.session[i] as string,
      key: c.key[i] as string,
      value: c.value[i] as string,
      vjson: c.vjson[i] as 0 | 1,
      ts: c.ts[i] as number | null,
      component: c.component[i] as string | null,
      user: c.user[i] as string | null,
      terminal: c.terminal[i] as string | null,
      step: c.step[i] as string | null,
      level: c.level[i] as string | null,
      attrs: c.attrs[i] as string | null,
      producer: c.producer[i] as string | null,
      pseq: c.pseq[i] as number | null,
    };
  }
  return events;
}

/** The text fields of an event, in the order {@link PackedEvents} stores them. */
const TEXT_FIELDS = ['session', 'key', 'value', 'component', 'user', 'terminal', 'step', 'level', 'attrs', 'producer'] as const;
const NF = TEXT_FIELDS.length;

/**
 * Text per chunk of {@link PackedEvents}: 32 Ki chars is 64 KiB even as a two-byte string, half of
 * V8's regular object limit (128 KiB).
 */
export const MAX_CHUNK_CHARS = 32 * 1024;

/**
 * A batch as a few strings and typed arrays: `lens` holds, per event, the length of each text
 * field in {@link TEXT_FIELDS} order ({@link NULL_FIELD} for null, {@link SAME_FIELD} for the
 * same text as the last event of the batch that had one in that field); the other fields' text
 * follows in that order across the chunks of `text`, a field never split between two (a field
 * longer than a chunk gets one of its own). Numbers are NaN for null.
 */
export interface PackedEvents {
  n: number;
  text: string[];
  lens: Int32Array;
  vjson: Uint8Array;
  ts: Float64Array;
  pseq: Float64Array;
}

/** `lens` of a null field. */
const NULL_FIELD = -1;
/**
 * `lens` of a field whose text is that of the last event before it in the batch with this field
 * set. Only {@link REPEATING} fields are sent so, and never the first event's of a batch, so
 * batches joined by {@link concatPacked} stay right.
 */
const SAME_FIELD = -2;

/**
 * The fields whose text usually repeats from one event to the next (a session's run of lines, its
 * key, component, level, user): all but `value` and `attrs`. A repeat crosses as {@link SAME_FIELD}
 * instead of its text, and unpacks to the very string of the event before it. So the writer looks
 * one string up in its maps (session summaries, rollups) over and over, and V8 keeps a string's
 * hash in the string: a new substring per event had to be hashed again for every lookup.
 */
const REPEATING: readonly boolean[] = TEXT_FIELDS.map((f) => f !== 'value' && f !== 'attrs');

/** `maxChunkChars` is for tests, to put chunk boundaries among a few short events. */
export function packEvents(events: NormalizedEvent[], maxChunkChars = MAX_CHUNK_CHARS): PackedEvents {
  const n = events.length;
  const lens = new Int32Array(n * NF);
  const vjson = new Uint8Array(n);
  const ts = new Float64Array(n);
  const pseq = new Float64Array(n);
  const text: string[] = [];
  const prev: Array<string | null> = TEXT_FIELDS.map(() => null);
  let chunk = '';
  let k = 0;
  const put = (f: number, v: string | null) => {
    if (v === null) lens[k++] = NULL_FIELD;
    else if (v === prev[f]) lens[k++] = SAME_FIELD;
    else {
      lens[k++] = v.length;
      if (REPEATING[f]) prev[f] = v;
      // A new chunk only before a non-empty field that does not fit (see unpackToColumns).
      if (v.length > 0 && chunk.length + v.length > maxChunkChars && chunk.length > 0) {
        text.push(chunk);
        chunk = '';
      }
      chunk += v;
    }
  };
  for (let i = 0; i < n; i++) {
    const e = events[i] as NormalizedEvent;
    // In TEXT_FIELDS order, each by its name: one property load site per field stays monomorphic.
    put(0, e.session);
    put(1, e.key);
    put(2, e.value);
    put(3, e.component);
    put(4, e.user);
    put(5, e.terminal);
    put(6, e.step);
    put(7, e.level);
    put(8, e.attrs);
    put(9, e.producer);
    vjson[i] = e.vjson;
    ts[i] = e.ts ?? Number.NaN;
    pseq[i] = e.pseq ?? Number.NaN;
  }
  if (chunk.length > 0) text.push(chunk);
  return { n, text, lens, vjson, ts, pseq };
}

/** Unpacks into columns (the writer's form) without making an object per event. */
export function unpackToColumns(p: PackedEvents): EventColumns {
  const n = p.n;
  const cols: Array<Array<string | null>> = TEXT_FIELDS.map(() => new Array(n));
  const ts: (number | null)[] = new Array(n);
  const pseq: (number | null)[] = new Array(n);
  const prev: Array<string | null> = TEXT_FIELDS.map(() => null);
  const lens = p.lens;
  let c = 0;
  let text = p.text[0] ?? '';
  let pos = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < NF; f++) {
      const len = lens[k++] as number;
      if (len === NULL_FIELD) (cols[f] as Array<string | null>)[i] = null;
      else if (len === SAME_FIELD) (cols[f] as Array<string | null>)[i] = prev[f] as string;
      else {
        // Chunks end where the next non-empty field would not have fitted.
        if (len > 0 && pos + len > text.length) {
          text = p.text[++c] ?? '';
          pos = 0;
        }
        const s = text.slice(pos, pos + len);
        (cols[f] as Array<string | null>)[i] = s;
        prev[f] = s; // only REPEATING fields are ever sent as SAME_FIELD
        pos += len;
      }
    }
    const t = p.ts[i] as number;
    ts[i] = Number.isNaN(t) ? null : t;
    const q = p.pseq[i] as number;
    pseq[i] = Number.isNaN(q) ? null : q;
  }
  const [session, key, value, component, user, terminal, step, level, attrs, producer] = cols as [
    string[],
    string[],
    string[],
    Array<string | null>,
    Array<string | null>,
    Array<string | null>,
    Array<string | null>,
    Array<string | null>,
    Array<string | null>,
    Array<string | null>,
  ];
  return { n, session, key, value, vjson: p.vjson, ts, component, user, terminal, step, level, attrs, producer, pseq };
}

/**
 * A copy of `s` that keeps no reference into the batch text it came from. The fields
 * {@link unpackToColumns} gives are slices of a chunk of up to {@link MAX_CHUNK_CHARS} characters,
 * and V8 keeps a slice of 13 or more characters (or a concatenation of such slices) as a pointer
 * into its parent: one such string kept beyond the batch — a Map key, a Set entry — keeps the whole
 * chunk alive, 32 KiB or more for a 20-character producer id. Whatever outlives the batch goes
 * through here. (`' ' + s` is a new concatenation; slicing it makes V8 flatten that into a fresh
 * string first, which the result then points into: one string of the copy's own length.)
 */
export function detached(s: string): string {
  return (' ' + s).slice(1);
}

/** Whether a batch is packed (else it is event objects). */
export function isPacked(b: NormalizedEvent[] | PackedEvents): b is PackedEvents {
  return !Array.isArray(b);
}

/** Packed batches one after the other, as one: their chunks of text are kept as they are. */
export function concatPacked(parts: PackedEvents[]): PackedEvents {
  if (parts.length === 1) return parts[0] as PackedEvents;
  let n = 0;
  for (const p of parts) n += p.n;
  const lens = new Int32Array(n * NF);
  const vjson = new Uint8Array(n);
  const ts = new Float64Array(n);
  const pseq = new Float64Array(n);
  const text: string[] = [];
  let at = 0;
  for (const p of parts) {
    lens.set(p.lens, at * NF);
    vjson.set(p.vjson, at);
    ts.set(p.ts, at);
    pseq.set(p.pseq, at);
    for (const t of p.text) text.push(t);
    at += p.n;
  }
  return { n, text, lens, vjson, ts, pseq };
}

/** Unpacks into event objects (the queue's form). */
export function unpackEvents(p: PackedEvents): NormalizedEvent[] {
  return fromColumns(unpackToColumns(p));
}
