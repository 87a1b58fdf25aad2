/**
 * Prometheus text exposition format (version 0.0.4), just enough to sum a metric's samples:
 * `name{label="v",...} value [timestamp]`, `#` lines skipped. Label values may hold escaped
 * quotes, so labels are skipped by scanning, not by splitting on spaces.
 */
export type Samples = Map<string, number>;

/** Sum of every sample per metric name (all label sets added up); histogram series keep their suffixes. */
export function parseMetrics(text: string): Samples {
  const out: Samples = new Map();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ' && line[i] !== '\t') i++;
    const name = line.slice(0, i);
    if (line[i] === '{') {
      let inQuote = false;
      for (i++; i < line.length; i++) {
        const c = line[i];
        if (inQuote) {
          if (c === '\\') i++;
          else if (c === '"') inQuote = false;
        } else if (c === '"') inQuote = true;
        else if (c === '}') {
          i++;
          break;
        }
      }
    }
    const rest = line.slice(i).trim().split(/\s+/)[0] ?? '';
    const value = rest === '+Inf' ? Number.POSITIVE_INFINITY : rest === '-Inf' ? Number.NEGATIVE_INFINITY : Number(rest);
    if (!name || Number.isNaN(value)) continue;
    out.set(name, (out.get(name) ?? 0) + value);
  }
  return out;
}
