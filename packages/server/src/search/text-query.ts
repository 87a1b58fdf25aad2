/**
 * The `q` parameter (SPEC §3): full-text search over event values, with one meaning wherever it is
 * evaluated — by SQLite's FTS5 index in the store, by {@link matchesText} on live events in the
 * tail hub and on rows of day files that have no index.
 *
 * Syntax (no operators, so no input is ever a syntax error):
 * - whitespace separates terms; every term must occur in the value (AND);
 * - a term matches when its words occur in the value as consecutive words: `items/4242` finds
 *   "GET items/4242" and "items 4242", `a:b` finds "a:b" and "a b", never "b a";
 * - `"..."` quotes a term that holds spaces: `"connection refused"`; a missing closing quote ends
 *   the term at the end of `q`;
 * - a `*` right after a term makes its last word a prefix: `fail*` finds "failed", `"exit co"*`
 *   finds "exit code";
 * - words are compared folded: case and accents do not count (`Café` = `cafe`); punctuation only
 *   separates words. A value that is not a string is searched as its JSON text.
 * - `q` empty or blank: no text filter. `q` with no word at all (`"--"`, `/`): refused.
 */
import { LogsrvError } from '@logsrv/protocol';
import { stripEscapes } from './escapes.js';
import { forEachToken, tokenize } from './tokenize.js';

export interface Phrase {
  /** Folded words, consecutive in a matching value. */
  tokens: string[];
  /** The last word matches any word it begins. */
  prefix: boolean;
}

export interface TextQuery {
  /** The `q` text as given. */
  source: string;
  /** All must match. */
  phrases: Phrase[];
}

const WHITESPACE = /\s/;

/**
 * Parses `q`. Returns null when it is absent or blank (no filter); throws LOGSRV_ERR_BAD_PARAM when
 * it holds no word to search for.
 */
export function parseTextQuery(q: string | undefined, param = 'q'): TextQuery | null {
  if (q === undefined || q.trim() === '') return null;
  const phrases: Phrase[] = [];
  let i = 0;
  const n = q.length;
  while (i < n) {
    if (WHITESPACE.test(q[i] as string)) {
      i++;
      continue;
    }
    let text: string;
    let prefix = false;
    if (q[i] === '"') {
      const close = q.indexOf('"', i + 1);
      const end = close < 0 ? n : close;
      text = q.slice(i + 1, end);
      i = close < 0 ? n : close + 1;
      if (q[i] === '*') {
        prefix = true;
        i++;
      }
    } else {
      const start = i;
      while (i < n && !WHITESPACE.test(q[i] as string)) i++;
      text = q.slice(start, i);
      if (text.endsWith('*')) {
        prefix = true;
        text = text.replace(/\*+$/, '');
      }
    }
    const tokens = tokenize(text);
    if (tokens.length > 0) phrases.push({ tokens, prefix });
  }
  if (phrases.length === 0) {
    throw new LogsrvError(
      'LOGSRV_ERR_BAD_PARAM',
      `parameter '${param}' has no word to search for: ${JSON.stringify(q)} (search matches words and numbers; punctuation only separates them)`,
    );
  }
  return { source: q, phrases };
}

/**
 * The FTS5 MATCH expression of a query. Every phrase is a quoted FTS5 string built from folded
 * words, which never contain `"` (a separator), so user input cannot reach FTS5's query syntax:
 * `items/4242` becomes `"items 4242"`, never a syntax error. Folding is idempotent (tested), so
 * FTS5 tokenizes these strings back into the same words.
 */
export function ftsExpression(tq: TextQuery): string {
  return tq.phrases.map((p) => `"${p.tokens.join(' ')}"${p.prefix ? ' *' : ''}`).join(' AND ');
}

function phraseAt(words: string[], at: number, p: Phrase): boolean {
  const last = p.tokens.length - 1;
  for (let k = 0; k <= last; k++) {
    const w = words[at + k] as string;
    const t = p.tokens[k] as string;
    if (k === last && p.prefix ? !w.startsWith(t) : w !== t) return false;
  }
  return true;
}

// The words of the last text matched: the tail hub checks one event against every filtered
// subscription in a row, and this tokenizes it once for all of them.
let lastText: string | null = null;
let lastWords: string[] = [];

function wordsOf(text: string): string[] {
  if (text === lastText) return lastWords;
  const words: string[] = [];
  // As the index sees it: without terminal escape sequences (escapes.ts).
  forEachToken(stripEscapes(text), (t) => {
    words.push(t);
    return undefined;
  });
  lastText = text;
  lastWords = words;
  return words;
}

/** Whether `text` (an event's value as stored: the string, or JSON text) matches the query. */
export function matchesText(tq: TextQuery, text: string): boolean {
  const words = wordsOf(text);
  for (const p of tq.phrases) {
    let found = false;
    for (let at = 0; at + p.tokens.length <= words.length; at++) {
      if (phraseAt(words, at, p)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}
