/**
 * `logsrv query [WORDS...] [filters] [--json]` (SPEC §4): searches stored events across sessions
 * through `GET /v1/events` — the same filters, `q` made of the words given — or, with
 * `--sessions`, lists sessions through `GET /v1/sessions`. Human output by default (one line per
 * event or session), `--json` for one JSON object per line. Pages are fetched as they are printed,
 * so `--all` over millions of events runs in bounded memory.
 *
 * Exit codes: 0 done (also when nothing matched), 1 the server refused or could not be reached,
 * 2 usage error.
 */

import { screenLine } from '@logsrv/protocol/terminal';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';

const DEFAULT_SERVER = 'http://127.0.0.1:7070';
const DEFAULT_LIMIT = 100;
/** Events or sessions asked per request; never more than the server's page limits. */
const PAGE_EVENTS = 1000;
const PAGE_SESSIONS = 200;
/** Longest value shown on one line of human output. */
const VALUE_CHARS = 400;

interface QueryOptions {
  session?: string;
  user?: string;
  terminal?: string;
  component?: string;
  key?: string;
  level?: string;
  step?: string;
  from?: string;
  to?: string;
  q?: string;
  after?: string;
  limit: number;
  all?: boolean;
  sessions?: boolean;
  json?: boolean;
  server?: string;
  token?: string;
}

class QueryError extends Error {}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
}

function write(text: string): Promise<void> | undefined {
  // Waiting for 'drain' slows the fetching of pages, never the output: backpressure.
  if (process.stdout.write(text)) return undefined;
  return new Promise((resolve) => process.stdout.once('drain', resolve));
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/g;
// An SGR (colour) sequence, or any other escape sequence: a CSI, an OSC string, ESC + one character.
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are the subject
const ESCAPES = /(\u001b\[[0-9;:]*m)|\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[^[\]]?/g;

function escapeControl(s: string): string {
  return s.replace(CONTROL, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** One line, control characters escaped, so a value can never break the listing or drive the terminal. */
function oneLine(text: string, max = VALUE_CHARS): string {
  const s = escapeControl(text);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * A value on one line of the listing. `colour` (stdout is a terminal): its colour codes (SGR) are
 * kept, so it shows as coloured as it was, and reset after it; otherwise every escape sequence is
 * left out. Any other control character is escaped either way, and `\r` redraws are shown as
 * their last state first (screenLine). At most `max` visible characters.
 */
function valueLine(text: string, colour: boolean, max = VALUE_CHARS): string {
  const shown = screenLine(text);
  let out = '';
  let visible = 0;
  let coloured = false;
  let from = 0;
  const addText = (t: string): boolean => {
    const esc = escapeControl(t);
    if (visible + esc.length > max) {
      out += `${esc.slice(0, max - visible)}…`;
      return false;
    }
    out += esc;
    visible += esc.length;
    return true;
  };
  ESCAPES.lastIndex = 0;
  for (let m = ESCAPES.exec(shown); m !== null; m = ESCAPES.exec(shown)) {
    if (!addText(shown.slice(from, m.index))) return coloured ? `${out}\u001b[0m` : out;
    if (colour && m[1] !== undefined) {
      out += m[1];
      coloured = true;
    }
    from = m.index + m[0].length;
  }
  addText(shown.slice(from));
  return coloured ? `${out}\u001b[0m` : out;
}

/** Colours on a terminal; NO_COLOR turns them off, FORCE_COLOR on (https://no-color.org). */
function wantColour(): boolean {
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  return process.stdout.isTTY === true;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

interface Event {
  id: string;
  session: string;
  key: string;
  value: unknown;
  received: string;
  level?: string;
  component?: string;
  step?: string;
}

function eventLine(e: Event, colour: boolean): string {
  const value = typeof e.value === 'string' ? valueLine(e.value, colour) : oneLine(JSON.stringify(e.value));
  const meta = [e.level, e.component, e.step].filter((m) => m !== undefined).join(' ');
  return `${e.received}  ${oneLine(e.session, 80)}  ${oneLine(e.key, 80)}${meta ? `  [${oneLine(meta, 120)}]` : ''}  ${value}\n`;
}

interface Summary {
  session: string;
  last: string | null;
  count: number;
  levels: Record<string, number>;
  users: string[];
  components: string[];
  registered?: { user: string | null; terminal: string | null };
}

function sessionLine(s: Summary): string {
  const levels = Object.entries(s.levels)
    .map(([l, n]) => `${l}:${n}`)
    .join(',');
  const users = new Set([...(s.registered?.user ? [s.registered.user] : []), ...s.users]);
  const parts = [
    s.last ?? '-'.padEnd(24),
    oneLine(s.session, 80),
    plural(s.count, 'event'),
    levels ? `levels ${levels}` : '',
    users.size > 0 ? `user ${oneLine([...users].join(','), 80)}` : '',
    s.components.length > 0 ? `component ${oneLine(s.components.join(','), 80)}` : '',
  ];
  return `${parts.filter((p) => p !== '').join('  ')}\n`;
}

async function get(server: string, path: string, params: URLSearchParams, token: string | undefined): Promise<{ body: unknown; next: string | null }> {
  const url = `${server.replace(/\/+$/, '')}${path}?${params}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new QueryError(
      `cannot reach ${server}: ${cause?.code ?? cause?.message ?? (err as Error).message} (is \`logsrv serve\` running? --server or LOGSRV_SERVER sets the address)`,
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new QueryError(`${server} answered ${res.status} with something that is not JSON: ${oneLine(text, 200)}`);
  }
  if (res.status !== 200) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    throw new QueryError(`${e?.message ?? `HTTP ${res.status}`}${e?.code ? ` (${e.code})` : ''}`);
  }
  return { body, next: (body as { next?: string | null }).next ?? null };
}

function filters(o: QueryOptions, names: readonly (keyof QueryOptions)[]): URLSearchParams {
  const p = new URLSearchParams();
  for (const n of names) {
    const v = o[n];
    if (typeof v === 'string') p.set(n, v);
  }
  return p;
}

async function queryEvents(server: string, o: QueryOptions, want: number): Promise<{ printed: number; next: string | null }> {
  const params = filters(o, ['session', 'user', 'terminal', 'component', 'key', 'level', 'step', 'from', 'to', 'q', 'after']);
  let printed = 0;
  const colour = !o.json && wantColour();
  for (;;) {
    params.set('limit', String(Math.min(PAGE_EVENTS, want - printed)));
    const { body, next } = await get(server, '/v1/events', params, o.token);
    for (const e of (body as { events: Event[] }).events) {
      await write(o.json ? `${JSON.stringify(e)}\n` : eventLine(e, colour));
      printed++;
    }
    if (next === null || printed >= want) return { printed, next };
    params.set('after', next);
  }
}

async function querySessions(server: string, o: QueryOptions, want: number): Promise<{ printed: number; next: string | null }> {
  const params = filters(o, ['user', 'terminal', 'component', 'from', 'to', 'q', 'after']);
  let printed = 0;
  for (;;) {
    params.set('limit', String(Math.min(PAGE_SESSIONS, want - printed)));
    const { body, next } = await get(server, '/v1/sessions', params, o.token);
    for (const s of (body as { sessions: Summary[] }).sessions) {
      await write(o.json ? `${JSON.stringify(s)}\n` : sessionLine(s));
      printed++;
    }
    if (next === null || printed >= want) return { printed, next };
    params.set('after', next);
  }
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('search stored events across sessions (or list sessions with --sessions); words given are a full-text query')
    .argument('[words...]', 'full-text query: every word must occur; "quoted words" must be consecutive; word* is a prefix')
    .option('--session <name>', 'events of this session only')
    .option('--user <name>', 'events (or sessions) of this user')
    .option('--terminal <name>', 'events (or sessions) of this terminal')
    .option('--component <name>', 'events (or sessions) from this component')
    .option('--key <key>', 'events with this key (stdout, stderr, an event name)')
    .option('--level <level>', 'events with this level')
    .option('--step <step>', 'events of this step')
    .option('--from <time>', 'received at or after: RFC 3339 (2026-11-22T10:00:00Z) or epoch ms')
    .option('--to <time>', 'received at or before: RFC 3339 or epoch ms')
    .option('-q, --q <text>', 'full-text query (instead of, or added to, the words)')
    .option('--after <cursor>', 'continue after this event id (or the session cursor printed by a previous --sessions run)')
    .option('--limit <n>', 'print at most this many', positiveInt, DEFAULT_LIMIT)
    .option('--all', 'print every match (pages are fetched as they are printed)')
    .option('--sessions', 'list sessions (newest activity first) with counts and levels instead of events')
    .option('--json', 'one JSON object per line, as the HTTP API returns them')
    .option('--server <url>', `server address [env LOGSRV_SERVER, default ${DEFAULT_SERVER}]`)
    .option('--token <token>', 'bearer token with read scope [env LOGSRV_TOKEN]')
    .action(async (words: string[], opts: QueryOptions) => {
      const server = opts.server ?? process.env.LOGSRV_SERVER ?? DEFAULT_SERVER;
      opts.token ??= process.env.LOGSRV_TOKEN;
      const q = [...words, ...(opts.q ? [opts.q] : [])].join(' ');
      if (q.trim() !== '') opts.q = q;
      else delete opts.q;
      if (opts.sessions) {
        for (const f of ['session', 'key', 'level', 'step'] as const) {
          if (opts[f] !== undefined) {
            process.stderr.write(`logsrv query: --${f} filters events; with --sessions use --user, --terminal, --component, --from, --to or words\n`);
            process.exit(2);
          }
        }
      }
      // `logsrv query ... | head` closes our stdout: a normal way to stop.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
      const want = opts.all ? Number.POSITIVE_INFINITY : opts.limit;
      try {
        const r = opts.sessions ? await querySessions(server, opts, want) : await queryEvents(server, opts, want);
        if (r.next !== null && !opts.json) {
          process.stderr.write(`logsrv query: more ${opts.sessions ? 'sessions' : 'events'} match: add --after '${r.next}' for the next ones, or --all\n`);
        }
        if (r.printed === 0 && !opts.json) process.stderr.write(`logsrv query: nothing matched\n`);
      } catch (err) {
        if (err instanceof QueryError) {
          process.stderr.write(`logsrv query: ${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
    });
}
