/**
 * A parsed `q` (search/text-query.ts) as a SQL condition on the `words` column (copy-rows.ts).
 *
 * Every whole word of every phrase must be in `words`: one containment test, `words @> ARRAY[…]`,
 * which the GIN index answers. Phrases of several words and prefixes are then checked exactly by
 * `logsrv_phrase` (schema.ts), which walks the stored tokens as `matchesText` walks its own: the
 * same tokenizer produced both, so the store selects exactly the events a live tail's matcher does.
 * A query made only of prefixes (`fail*`) has no word for the index and is checked row by row.
 */
import type { TextQuery } from '../../search/index.js';

export interface SqlCondition {
  /** ` AND …` with `$n` placeholders numbered from the `first` given. */
  sql: string;
  args: unknown[];
}

export function textCondition(tq: TextQuery, first: number, column = 'words'): SqlCondition {
  const required = new Set<string>();
  const phrases: { tokens: string[]; prefix: boolean }[] = [];
  for (const p of tq.phrases) {
    const whole = p.prefix ? p.tokens.slice(0, -1) : p.tokens;
    for (const t of whole) required.add(t);
    if (p.tokens.length > 1 || p.prefix) phrases.push(p);
  }
  let sql = '';
  const args: unknown[] = [];
  let n = first;
  if (required.size > 0) {
    sql += ` AND ${column} @> $${n++}::text[]`;
    args.push([...required]);
  }
  for (const p of phrases) {
    sql += ` AND logsrv_phrase(${column}, $${n++}::text[], ${p.prefix ? 'true' : 'false'})`;
    args.push(p.tokens);
  }
  return { sql, args };
}
