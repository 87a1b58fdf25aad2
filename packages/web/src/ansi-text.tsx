/**
 * A line of terminal output as React elements: ANSI SGR colours and decorations parsed by anser
 * into spans. Text only ever reaches the DOM as React text nodes — never as HTML — so a log line
 * holding markup stays text. Search terms are marked inside the spans.
 */
import Anser from 'anser';

type AnserJsonEntry = Anser.AnserJsonEntry;

import type { CSSProperties, ReactNode } from 'react';

/** Parsed lines by text: a visible window re-renders often, parsing each line once is enough. */
const cache = new Map<string, AnserJsonEntry[]>();
const CACHE_MAX = 4000;

function parse(text: string): AnserJsonEntry[] {
  let entries = cache.get(text);
  if (!entries) {
    // ESC is the only way in; most lines have none and skip the parser.
    entries = text.includes('\u001b') ? Anser.ansiToJson(text, { json: true, use_classes: true, remove_empty: true }) : [];
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(text, entries);
  }
  return entries;
}

/** xterm's 256-colour palette above the 16 base colours (which come from the theme's CSS). */
function paletteColor(n: number): string {
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v}, ${v}, ${v})`;
  }
  const i = n - 16;
  const step = (c: number) => (c === 0 ? 0 : 55 + c * 40);
  return `rgb(${step(Math.floor(i / 36))}, ${step(Math.floor(i / 6) % 6)}, ${step(i % 6)})`;
}

function colorStyle(cls: string | null, truecolor: string | null, prop: 'color' | 'backgroundColor', style: CSSProperties): string | undefined {
  if (!cls) return undefined;
  if (cls === 'ansi-truecolor' && truecolor) {
    style[prop] = `rgb(${truecolor})`;
    return undefined;
  }
  const m = /^ansi-palette-(\d+)$/.exec(cls);
  if (m) {
    style[prop] = paletteColor(Number(m[1]));
    return undefined;
  }
  return `${cls}-${prop === 'color' ? 'fg' : 'bg'}`;
}

/** Splits `text` around case-insensitive occurrences of `terms`, wrapping them in <mark>. */
export function marked(text: string, terms: string[], keyBase: string): ReactNode {
  if (terms.length === 0 || text === '') return text;
  const lower = text.toLowerCase();
  const out: ReactNode[] = [];
  let i = 0;
  while (i < text.length) {
    let at = -1;
    let len = 0;
    for (const t of terms) {
      const j = lower.indexOf(t, i);
      if (j >= 0 && (at < 0 || j < at || (j === at && t.length > len))) {
        at = j;
        len = t.length;
      }
    }
    if (at < 0) break;
    if (at > i) out.push(text.slice(i, at));
    out.push(<mark key={`${keyBase}-${at}`}>{text.slice(at, at + len)}</mark>);
    i = at + len;
  }
  if (out.length === 0) return text;
  if (i < text.length) out.push(text.slice(i));
  return out;
}

export function AnsiText({ text, terms }: { text: string; terms: string[] }): ReactNode {
  const entries = parse(text);
  if (entries.length === 0) {
    // Plain line, or one whose only escape codes were stripped to nothing.
    return text.includes('\u001b') ? null : marked(text, terms, 't');
  }
  return entries.map((e, i) => {
    const style: CSSProperties = {};
    const classes: string[] = [];
    const fg = colorStyle(e.fg, e.fg_truecolor, 'color', style);
    const bg = colorStyle(e.bg, e.bg_truecolor, 'backgroundColor', style);
    if (fg) classes.push(fg);
    if (bg) classes.push(bg);
    for (const d of e.decorations) classes.push(`ansi-${d}`);
    const key = `${i}`;
    if (classes.length === 0 && !style.color && !style.backgroundColor) return <span key={key}>{marked(e.content, terms, key)}</span>;
    return (
      <span key={key} className={classes.join(' ')} style={style}>
        {marked(e.content, terms, key)}
      </span>
    );
  });
}

/** Words of a `q` (the server's syntax: terms, "quoted phrases", a trailing `*`) to mark in lines. */
export function searchTerms(q: string): string[] {
  const terms: string[] = [];
  const re = /"([^"]*)"?\*?|(\S+)/g;
  for (let m = re.exec(q); m !== null; m = re.exec(q)) {
    const t = (m[1] ?? m[2] ?? '').replace(/\*$/, '').trim().toLowerCase();
    if (t) terms.push(t);
  }
  return terms;
}
