import type { NormalizedEvent, StoredEvent } from '@logsrv/protocol';

/** The storage-neutral row shape both stores read back (see sqlite/schema.ts for meanings). */
export interface EventRowLike {
  ms: number;
  seq: number;
  session: string;
  key: string;
  value: string;
  vjson: number;
  ts: number | null;
  component: string | null;
  user: string | null;
  terminal: string | null;
  step: string | null;
  level: string | null;
  attrs: string | null;
  producer: string | null;
  pseq: number | null;
}

/** Turns a stored row into the public event shape (SPEC §1); absent metadata stays absent. */
export function rowToEvent(r: EventRowLike): StoredEvent {
  const received = new Date(r.ms).toISOString();
  const e: StoredEvent = {
    id: `${r.ms}-${r.seq}`,
    session: r.session,
    key: r.key,
    value: r.vjson ? JSON.parse(r.value) : r.value,
    ts: r.ts === null ? received : new Date(r.ts).toISOString(),
    received,
  };
  if (r.component !== null) e.component = r.component;
  if (r.user !== null) e.user = r.user;
  if (r.terminal !== null) e.terminal = r.terminal;
  if (r.step !== null) e.step = r.step;
  if (r.level !== null) e.level = r.level;
  if (r.attrs !== null) e.attrs = JSON.parse(r.attrs);
  if (r.producer !== null) e.producer = r.producer;
  if (r.pseq !== null) e.seq = r.pseq;
  return e;
}

/**
 * The public shape of an event the writer just committed as `${ms}-${seq}`. It goes through
 * {@link rowToEvent}, so a live tail frame is byte-identical to the same event read back.
 */
export function committedToEvent(e: NormalizedEvent, ms: number, seq: number): StoredEvent {
  return rowToEvent({
    ms,
    seq,
    session: e.session,
    key: e.key,
    value: e.value,
    vjson: e.vjson,
    ts: e.ts,
    component: e.component,
    user: e.user,
    terminal: e.terminal,
    step: e.step,
    level: e.level,
    attrs: e.attrs,
    producer: e.producer,
    pseq: e.pseq,
  });
}

/**
 * {@link rowToEvent} for a row read in raw mode (an array in `SELECT_COLUMNS` order: ms, seq,
 * session, key, value, vjson, ts, component, user, terminal, step, level, attrs, producer, pseq).
 * better-sqlite3 returns 10,000 rows as arrays in about half the time it takes to return them as
 * objects; the event is the same (tested).
 */
export function arrayToEvent(a: unknown[]): StoredEvent {
  const ms = a[0] as number;
  const received = new Date(ms).toISOString();
  const ts = a[6] as number | null;
  const e: StoredEvent = {
    id: `${ms}-${a[1] as number}`,
    session: a[2] as string,
    key: a[3] as string,
    value: a[5] ? JSON.parse(a[4] as string) : (a[4] as string),
    ts: ts === null ? received : new Date(ts).toISOString(),
    received,
  };
  if (a[7] !== null) e.component = a[7] as string;
  if (a[8] !== null) e.user = a[8] as string;
  if (a[9] !== null) e.terminal = a[9] as string;
  if (a[10] !== null) e.step = a[10] as string;
  if (a[11] !== null) e.level = a[11] as string;
  if (a[12] !== null) e.attrs = JSON.parse(a[12] as string);
  if (a[13] !== null) e.producer = a[13] as string;
  if (a[14] !== null) e.seq = a[14] as number;
  return e;
}

/** The last epoch ms turned into ISO text: the events of one batch mostly share their ms. */
let isoMs = Number.NaN;
let isoText = '';
function isoOf(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

/**
 * `JSON.stringify(committedToEvent(e, ms, seq))`, byte for byte, built as text: the live tail
 * serializes every committed event, and going through the object cost a parse and a stringify
 * of `value` and `attrs` plus the object itself (~3× one stringify). `value` (when `vjson`) and
 * `attrs` are already JSON.stringify output (protocol normalizeEvent; the Redis feed does the
 * same), which a parse → stringify round trip gives back unchanged, so they are copied as they
 * are. Field order is {@link rowToEvent}'s; tested against it.
 */
export function committedEventJson(e: NormalizedEvent, ms: number, seq: number): string {
  const received = isoOf(ms);
  const ts = e.ts === null ? received : e.ts === ms ? received : new Date(e.ts).toISOString();
  let s = `{"id":"${ms}-${seq}","session":${JSON.stringify(e.session)},"key":${JSON.stringify(e.key)},"value":${e.vjson ? e.value : JSON.stringify(e.value)},"ts":"${ts}","received":"${received}"`;
  if (e.component !== null) s += `,"component":${JSON.stringify(e.component)}`;
  if (e.user !== null) s += `,"user":${JSON.stringify(e.user)}`;
  if (e.terminal !== null) s += `,"terminal":${JSON.stringify(e.terminal)}`;
  if (e.step !== null) s += `,"step":${JSON.stringify(e.step)}`;
  if (e.level !== null) s += `,"level":${JSON.stringify(e.level)}`;
  if (e.attrs !== null) s += `,"attrs":${e.attrs}`;
  if (e.producer !== null) s += `,"producer":${JSON.stringify(e.producer)}`;
  if (e.pseq !== null) s += `,"seq":${e.pseq}`;
  return `${s}}`;
}
