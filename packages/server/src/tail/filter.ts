/**
 * What a tail follows: equality filters on the first-class event fields, and `q`, full-text
 * search over values. One subscription in the hub serves every viewer of the same filter, so
 * filters have a canonical key. History is read from the store with the same filter: `q` means
 * the same there and here (search/text-query.ts), which keeps the seam exact.
 */
import type { NormalizedEvent } from '@logsrv/protocol';
import { LogsrvError } from '@logsrv/protocol';
import type { Query } from '../query/params.js';
import { str } from '../query/params.js';
import type { TextQuery } from '../search/index.js';
import { matchesText, parseTextQuery } from '../search/index.js';

export const FILTER_FIELDS = ['session', 'key', 'step', 'component', 'user', 'terminal', 'level'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];
export type TailFilter = { [F in FilterField]?: string } & {
  /** Full-text query; absent when blank. */
  q?: string;
};

/** Query parameters a tail understands besides the filters. */
const CONTROL_PARAMS = ['after', 'from', 'q'] as const;

/** `session=a&key=stdout` and `key=stdout&session=a` name the same subscription. */
export function filterKey(f: TailFilter): string {
  let k = '';
  for (const field of FILTER_FIELDS) {
    const v = f[field];
    if (v !== undefined) k += `${field}=${JSON.stringify(v)};`;
  }
  if (f.q !== undefined) k += `q=${JSON.stringify(f.q)};`;
  return k;
}

export function matches(f: TailFilter, e: NormalizedEvent): boolean {
  return compileFilter(f)(e);
}

/** The filter as one predicate, its `q` parsed once: the hub keeps one per subscription. */
export function compileFilter(f: TailFilter): (e: NormalizedEvent) => boolean {
  const tq: TextQuery | null = parseTextQuery(f.q);
  if (tq === null) return (e) => fieldsMatch(f, e);
  return (e) => fieldsMatch(f, e) && matchesText(tq, e.value);
}

function fieldsMatch(f: TailFilter, e: NormalizedEvent): boolean {
  return (
    (f.session === undefined || f.session === e.session) &&
    (f.key === undefined || f.key === e.key) &&
    (f.step === undefined || f.step === e.step) &&
    (f.component === undefined || f.component === e.component) &&
    (f.user === undefined || f.user === e.user) &&
    (f.terminal === undefined || f.terminal === e.terminal) &&
    (f.level === undefined || f.level === e.level)
  );
}

/**
 * Reads the filters of a tail request. Unknown parameters are refused rather than ignored: a
 * mistyped filter (`sesion=`) would otherwise silently tail everything. `fixedSession` is the
 * `:session` of the per-session route, which takes no `session` parameter.
 */
export function parseFilter(q: Query, fixedSession?: string): TailFilter {
  const allowed = new Set<string>([...CONTROL_PARAMS, ...FILTER_FIELDS]);
  if (fixedSession !== undefined) allowed.delete('session');
  for (const name of Object.keys(q)) {
    if (!allowed.has(name)) {
      throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `unknown parameter '${name}' for a tail (known: ${[...allowed].sort().join(', ')})`);
    }
  }
  const f: TailFilter = {};
  const text = str(q, 'q', 1024);
  if (parseTextQuery(text) !== null) f.q = text;
  if (fixedSession !== undefined) {
    if (fixedSession.length === 0 || fixedSession.length > 256) throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', 'session must be 1 to 256 characters');
    f.session = fixedSession;
  }
  for (const field of FILTER_FIELDS) {
    if (field === 'session' && fixedSession !== undefined) continue;
    const v = str(q, field);
    if (v === undefined) continue;
    if (v === '') throw new LogsrvError('LOGSRV_ERR_BAD_PARAM', `parameter '${field}' is empty: give a value or leave it out`);
    f[field] = v;
  }
  return f;
}
