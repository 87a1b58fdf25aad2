/**
 * Rows in PostgreSQL's COPY text format (tab-separated columns, `\N` for NULL, backslash escapes),
 * built in Node for `COPY … FROM STDIN` (postgres.js does the framing). The last column is
 * `words`: the tokens search/tokenize.ts gives for the value as a terminal shows it
 * (search/escapes.ts), as an array literal — the full-text index of this store.
 *
 * PostgreSQL's text cannot hold U+0000, which a JSON string may carry. A row with one in any text
 * field is stored with its text fields escaped (U+FFFF as the escape character: `\uFFFF0` for
 * U+0000, `\uFFFF\uFFFF` for U+FFFF) and 2 added to `vjson`; {@link decodeRow} undoes it. Such rows
 * are rare; every other row is stored as it is.
 */
import type { NormalizedEvent } from '@logsrv/protocol';
import { stripEscapes } from '../../search/escapes.js';
import { forEachToken } from '../../search/tokenize.js';
import type { EventRowLike } from '../rows.js';

/** COPY text escaping of one field's text. */
function copyText(s: string): string {
  // Only these four need escaping in COPY's text format; a test on the common case first.
  if (!/[\\\n\r\t]/.test(s)) return s;
  return s.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t'));
}

function field(v: string | null): string {
  return v === null ? '\\N' : copyText(v);
}

function num(v: number | null): string {
  return v === null ? '\\N' : String(v);
}

/** The tokens of a value as the index and `matchesText` see them. */
export function wordsOf(value: string): string[] {
  const out: string[] = [];
  forEachToken(stripEscapes(value), (t) => {
    out.push(t);
    return undefined;
  });
  return out;
}

/** An array literal of words, every element quoted (tokens never hold `"` or `\`, but the literal stays valid if they did). */
function arrayLiteral(words: string[]): string {
  let s = '{';
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    s += `${i > 0 ? ',' : ''}"${/["\\]/.test(w) ? w.replace(/["\\]/g, '\\$&') : w}"`;
  }
  return `${s}}`;
}

/**
 * Text for a summary column (session names, keys, field values): U+0000 escaped as in rows, the
 * rest as it is. (Such a name is listed in its escaped form.)
 */
export function pgText(s: string): string {
  return s.includes('\u0000') ? escapeNul(s) : s;
}

function escapeNul(s: string): string;
function escapeNul(s: string | null): string | null;
function escapeNul(s: string | null): string | null {
  // U+FFFF doubled first, then U+0000 as U+FFFF '0': reversible by one left-to-right pass.
  return s === null ? null : s.replaceAll('\uffff', '\uffff\uffff').replaceAll('\u0000', '\uffff0');
}
function unescapeNul(s: string): string;
function unescapeNul(s: string | null): string | null;
function unescapeNul(s: string | null): string | null {
  // Partial rows (only some columns read) lack the others.
  return s == null ? s : s.replace(/\uffff([0\uffff])/g, (_m, c: string) => (c === '0' ? '\u0000' : '\uffff'));
}

function hasNul(e: NormalizedEvent): boolean {
  for (const v of [e.session, e.key, e.value, e.component, e.user, e.terminal, e.step, e.level, e.attrs, e.producer]) {
    if (v?.includes('\u0000')) return true;
  }
  return false;
}

/** One COPY line (with its newline) for event `e` stored as `ms-seq`. */
export function copyLine(e: NormalizedEvent, ms: number, seq: number): string {
  const words = arrayLiteral(wordsOf(e.value));
  let x = e;
  let vjson: number = e.vjson;
  // Rare: U+0000 somewhere (a row without one may hold U+FFFF: escaped only in such rows).
  if (hasNul(e)) {
    x = {
      ...e,
      session: escapeNul(e.session),
      key: escapeNul(e.key),
      value: escapeNul(e.value),
      component: escapeNul(e.component),
      user: escapeNul(e.user),
      terminal: escapeNul(e.terminal),
      step: escapeNul(e.step),
      level: escapeNul(e.level),
      attrs: escapeNul(e.attrs),
      producer: escapeNul(e.producer),
    };
    vjson += 2;
  }
  return `${ms}\t${seq}\t${copyText(x.session)}\t${copyText(x.key)}\t${copyText(x.value)}\t${vjson}\t${num(x.ts)}\t${field(x.component)}\t${field(x.user)}\t${field(x.terminal)}\t${field(x.step)}\t${field(x.level)}\t${field(x.attrs)}\t${field(x.producer)}\t${num(x.pseq)}\t${copyText(words)}\n`;
}

/** A row as read back, with a NUL-escaped row ({@link copyLine}) restored. */
export function decodeRow(r: EventRowLike): EventRowLike {
  if (r.vjson < 2) return r;
  return {
    ...r,
    vjson: r.vjson - 2,
    session: unescapeNul(r.session),
    key: unescapeNul(r.key),
    value: unescapeNul(r.value),
    component: unescapeNul(r.component),
    user: unescapeNul(r.user),
    terminal: unescapeNul(r.terminal),
    step: unescapeNul(r.step),
    level: unescapeNul(r.level),
    attrs: unescapeNul(r.attrs),
    producer: unescapeNul(r.producer),
  };
}
