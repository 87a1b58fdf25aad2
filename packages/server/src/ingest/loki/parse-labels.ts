/**
 * A Loki stream's label set as protobuf pushes carry it: the text `{name="value", ...}` (a LogQL
 * stream selector with only `=` matchers). Names are `[a-zA-Z_][a-zA-Z0-9_]*`; values are quoted
 * with `"`, `'` or backticks (raw), with Go's escapes in the first two (`\"`, `\\`, `\n`, `\t`,
 * `\r`, `\a`, `\b`, `\f`, `\v`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`, octal `\ooo`). What Promtail,
 * Alloy and Grafana's clients write is `labels.String()`: double quotes, Go-escaped.
 *
 * Hand-written (no npm package parses it), so fuzzed (test/loki-labels.test.ts): never throws,
 * and any label set written that way parses back to itself.
 */

export type LabelsParse = { labels: Record<string, string> } | { error: string };

const NAME_START = /[a-zA-Z_]/;
const NAME_CHAR = /[a-zA-Z0-9_]/;
const SIMPLE: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };

export function parseLabels(text: string): LabelsParse {
  const labels: Record<string, string> = Object.create(null);
  let at = 0;
  const skipSpace = () => {
    while (at < text.length && /\s/.test(text[at] as string)) at++;
  };
  skipSpace();
  if (text[at] !== '{') return { error: `labels must start with '{': ${JSON.stringify(text.slice(0, 40))}` };
  at++;
  skipSpace();
  if (text[at] === '}') {
    at++;
    skipSpace();
    return at === text.length ? { labels } : { error: 'text after the closing }' };
  }
  for (;;) {
    skipSpace();
    const start = at;
    if (!NAME_START.test(text[at] ?? '')) return { error: `label name expected at offset ${at}` };
    while (at < text.length && NAME_CHAR.test(text[at] as string)) at++;
    const name = text.slice(start, at);
    skipSpace();
    if (text[at] !== '=' || text[at + 1] === '=' || text[at + 1] === '~') return { error: `label ${name}: only = matchers are allowed in pushed labels` };
    at++;
    skipSpace();
    const v = quoted();
    if (typeof v !== 'string') return v;
    labels[name] = v;
    skipSpace();
    if (text[at] === ',') {
      at++;
      continue;
    }
    if (text[at] === '}') {
      at++;
      skipSpace();
      return at === text.length ? { labels } : { error: 'text after the closing }' };
    }
    return { error: `',' or '}' expected at offset ${at}` };
  }

  function quoted(): string | { error: string } {
    const q = text[at];
    if (q !== '"' && q !== "'" && q !== '`') return { error: `quoted label value expected at offset ${at}` };
    at++;
    let out = '';
    for (;;) {
      if (at >= text.length) return { error: 'unterminated label value' };
      const c = text[at] as string;
      if (c === q) {
        at++;
        return out;
      }
      if (c === '\\' && q !== '`') {
        const e = text[at + 1];
        if (e === undefined) return { error: 'unterminated escape in label value' };
        if (SIMPLE[e] !== undefined) {
          out += SIMPLE[e];
          at += 2;
          continue;
        }
        const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
        if (hex > 0) {
          const digits = text.slice(at + 2, at + 2 + hex);
          if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) return { error: `bad \\${e} escape in label value` };
          const cp = Number.parseInt(digits, 16);
          if (cp > 0x10ffff) return { error: 'escape beyond Unicode in label value' };
          out += String.fromCodePoint(cp);
          at += 2 + hex;
          continue;
        }
        const oct = text.slice(at + 1, at + 4);
        if (/^[0-7]{3}$/.test(oct)) {
          out += String.fromCharCode(Number.parseInt(oct, 8) & 0xff);
          at += 4;
          continue;
        }
        return { error: `unknown escape \\${e} in label value` };
      }
      out += c;
      at++;
    }
  }
}

/** The canonical text of a label set (sorted by name, double-quoted), e.g. `{app="api", env="prod"}`: the `{labels}` of a session template. */
export function labelsText(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ')}}`;
}
