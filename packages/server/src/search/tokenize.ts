/**
 * The words of a text exactly as the full-text index sees them: a JavaScript replica of SQLite
 * FTS5's `unicode61 remove_diacritics 2` tokenizer, driven by a table probed from the SQLite that
 * better-sqlite3 bundles (unicode61-table.ts). Live tails filter with it and the store's index is
 * built by SQLite, so the two must agree to the code point — that is what keeps a filtered tail's
 * seam exact.
 *
 * The tokenizer's rules, per code point and without context: a separator ends the current token;
 * any other code point is part of it, folded (lower case, accents removed: `É` → `e`) or, for a
 * combining diacritic, dropped. Tokens left empty by dropping are not tokens. A lone UTF-16
 * surrogate reaches SQLite as U+FFFD (V8's UTF-8 encoder), so it is read as U+FFFD here too.
 */
import { FOLDS, SEPARATOR_RANGES } from './unicode61-table.js';

const SEPARATOR = -1;
const DROPPED = -2;

function decode(list: string): number[] {
  return list === '' ? [] : list.split(',').map((s) => (s === '-' ? DROPPED : Number.parseInt(s, 36)));
}

/** What each BMP code point becomes: itself, another code point, SEPARATOR or DROPPED. */
const BMP = new Int32Array(0x10000);
/** Separator ranges above the BMP, as sorted start,end pairs. */
const astralSeparators: number[] = [];
const astralFolds = new Map<number, number>();
{
  for (let c = 0; c < 0x10000; c++) BMP[c] = c;
  const seps = decode(SEPARATOR_RANGES);
  for (let i = 0; i < seps.length; i += 2) {
    const from = seps[i] as number;
    const to = seps[i + 1] as number;
    for (let c = from; c <= Math.min(to, 0xffff); c++) BMP[c] = SEPARATOR;
    if (to > 0xffff) astralSeparators.push(Math.max(from, 0x10000), to);
  }
  const folds = decode(FOLDS);
  for (let i = 0; i < folds.length; i += 2) {
    const from = folds[i] as number;
    const to = folds[i + 1] as number;
    if (from < 0x10000) BMP[from] = to;
    else astralFolds.set(from, to);
  }
}

function astral(c: number): number {
  let lo = 0;
  let hi = astralSeparators.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (c < (astralSeparators[2 * mid] as number)) hi = mid - 1;
    else if (c > (astralSeparators[2 * mid + 1] as number)) lo = mid + 1;
    else return SEPARATOR;
  }
  return astralFolds.get(c) ?? c;
}

/**
 * Calls `onToken` with each token of `text`, in order. A token that needs no folding is a slice
 * of `text` (no per-character work); others are built from their folded code points.
 */
export function forEachToken(text: string, onToken: (token: string) => boolean | undefined): void {
  let start = -1; // start of the current token in `text`, or -1
  let folded: number[] | null = null; // the token's code points once one of them changed
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    let c = i < n ? text.charCodeAt(i) : 0x20;
    let width = 1;
    let lone = false;
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        width = 2;
      } else {
        c = 0xfffd;
        lone = true;
      }
    }
    const m = c < 0x10000 ? (BMP[c] as number) : astral(c);
    if (m === SEPARATOR) {
      if (start >= 0) {
        const token = folded === null ? text.slice(start, i) : String.fromCodePoint(...folded);
        start = -1;
        folded = null;
        if (token.length > 0 && onToken(token) === false) return;
      }
      continue;
    }
    if (start < 0) start = i;
    if ((m !== c || lone) && folded === null) {
      // The first code point that changes: copy what came before it, then fold from here on.
      folded = [];
      for (let j = start; j < i; ) {
        const cp = text.codePointAt(j) as number;
        folded.push(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
        j += cp > 0xffff ? 2 : 1;
      }
    }
    if (folded !== null && m !== DROPPED) folded.push(m);
    i += width - 1;
  }
}

/** The tokens of `text`, folded, in order. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  forEachToken(text, (t) => {
    out.push(t);
    return undefined;
  });
  return out;
}
