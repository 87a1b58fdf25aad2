/**
 * `GET /v1/sessions` and one session's summary, from the summary tables (summaries.ts): never by
 * scanning events, except to check a `q` on the sessions of a page. The logic is the embedded
 * store's (sqlite/read-sessions.ts) with one table per concern instead of one per day file:
 * - ranking candidates, when a filter names few sessions (a user/terminal/component from
 *   session_fields and the registry, or a rare `q` word from the GIN index): each one's last
 *   activity is looked up and the set sorted;
 * - otherwise walking `sessions` by its (last_ms, session) index, newest first, from the cursor.
 */
import type { Sql } from 'postgres';
import type { TextQuery } from '../../search/index.js';
import { parseTextQuery } from '../../search/index.js';
import type { SessionCursor } from '../session-cursor.js';
import { compareCodePoints, compareListed, decodeSessionCursor, encodeSessionCursor } from '../session-cursor.js';
import type { LatestValue, RegisteredSession, SessionPage, SessionSummary, SessionsQuery } from '../store.js';
import { decodeRow, pgText } from './copy-rows.js';
import { NO_BOUND } from './read-events.js';
import { textCondition } from './text-sql.js';

/** Candidate sets up to this size are ranked; larger ones are checked while walking. */
const MAX_RANKED = 20_000;
/** A `q` matching at most this many events picks its sessions from the index. */
const MAX_INDEX_DRIVEN = 20_000;
/** Sessions read per step of a walk. */
const WALK_PAGE = 500;

interface Listed extends SessionCursor {}

export async function registration(sql: Sql, session: string): Promise<RegisteredSession | null> {
  const [r] = await sql<{ user: string | null; terminal: string | null; attrs: string | null; updated_ms: number }[]>`
    SELECT "user", terminal, attrs, updated_ms FROM registry WHERE session = ${pgText(session)}`;
  if (!r) return null;
  return { session, user: r.user, terminal: r.terminal, attrs: r.attrs === null ? null : JSON.parse(r.attrs), updated: new Date(r.updated_ms).toISOString() };
}

/** Sessions with events naming every given user/terminal/component, or registered to the user/terminal. */
async function fieldCandidates(sql: Sql, q: SessionsQuery): Promise<Set<string> | null> {
  let out: Set<string> | null = null;
  for (const field of ['user', 'terminal', 'component'] as const) {
    const value = q[field];
    if (value === undefined) continue;
    const found = new Set<string>();
    const v = pgText(value);
    for (const r of await sql<{ session: string }[]>`SELECT DISTINCT session FROM session_fields WHERE field = ${field} AND value = ${v}`) found.add(r.session);
    if (field !== 'component') {
      const regSql = `SELECT session FROM registry WHERE ${field === 'user' ? '"user"' : 'terminal'} = $1`;
      for (const r of await sql.unsafe<{ session: string }[]>(regSql, [v])) found.add(r.session);
    }
    if (out === null) out = found;
    else {
      const both = new Set<string>();
      for (const s of out) if (found.has(s)) both.add(s);
      out = both;
    }
  }
  return out;
}

/** Sessions with an event matching a `q` that matches few events; null when it matches many. */
async function indexCandidates(sql: Sql, tq: TextQuery): Promise<Set<string> | null> {
  const t = textCondition(tq, 1);
  const got = await sql.unsafe<{ session: string }[]>(`SELECT session FROM events WHERE true${t.sql} LIMIT ${MAX_INDEX_DRIVEN + 1}`, t.args as never[]);
  if (got.length > MAX_INDEX_DRIVEN) return null;
  return new Set(got.map((r) => r.session));
}

/** Whether `session` has an event matching `tq`. */
async function hasMatch(sql: Sql, session: string, tq: TextQuery): Promise<boolean> {
  const t = textCondition(tq, 2);
  const got = await sql.unsafe(`SELECT 1 FROM events WHERE session = $1${t.sql} LIMIT 1`, [session, ...t.args] as never[], { prepare: true });
  return got.length > 0;
}

interface Plan {
  q: SessionsQuery;
  tq: TextQuery | null;
  /** `q` is already known to hold for every candidate. */
  textChecked: boolean;
  cursor: SessionCursor | null;
  /** Sessions wanted: the page plus one, to know whether another page follows. */
  want: number;
}

async function rank(sql: Sql, candidates: Set<string>, p: Plan): Promise<Listed[]> {
  const timeOrText = p.q.from !== undefined || p.q.to !== undefined || p.tq !== null;
  const names = [...candidates];
  const known = new Map<string, { first_ms: number; last_ms: number }>();
  for (const r of await sql<{ session: string; first_ms: number; last_ms: number }[]>`
    SELECT session, first_ms, last_ms FROM sessions WHERE session = ANY(${names}::text[])`) {
    known.set(r.session, r);
  }
  const listed: Listed[] = [];
  for (const session of names) {
    const r = known.get(session);
    let item: Listed;
    if (!r) {
      // Registered, no events yet: listed last, and only when nothing asks about its events.
      if (timeOrText) continue;
      item = { lastMs: -1, session };
    } else {
      if ((p.q.from !== undefined && r.last_ms < p.q.from) || (p.q.to !== undefined && r.first_ms > p.q.to)) continue;
      item = { lastMs: r.last_ms, session };
    }
    if (p.cursor && compareListed(item, p.cursor) <= 0) continue;
    listed.push(item);
  }
  listed.sort(compareListed);
  if (!p.tq || p.textChecked) return listed.slice(0, p.want);
  const out: Listed[] = [];
  for (const item of listed) {
    if (await hasMatch(sql, item.session, p.tq)) out.push(item);
    if (out.length >= p.want) break;
  }
  return out;
}

async function walk(sql: Sql, members: Set<string> | null, p: Plan): Promise<Listed[]> {
  const out: Listed[] = [];
  const { q } = p;
  // Registered sessions without events (lastMs -1) are only listed by rank().
  if (p.cursor && p.cursor.lastMs < 0) return out;
  let at = p.cursor ? { lastMs: p.cursor.lastMs, session: p.cursor.session } : { lastMs: NO_BOUND, session: '' };
  let cond = '';
  const args: unknown[] = [];
  let n = 4;
  if (q.from !== undefined) {
    cond += ` AND last_ms >= $${n++}`;
    args.push(q.from);
  }
  if (q.to !== undefined) {
    cond += ` AND first_ms <= $${n++}`;
    args.push(q.to);
  }
  if (q.prefix !== undefined) {
    cond += ` AND starts_with(session, $${n++})`;
    args.push(pgText(q.prefix));
  }
  if (members !== null) {
    cond += ` AND session = ANY($${n++}::text[])`;
    args.push([...members]);
  }
  const text = `SELECT session, last_ms FROM sessions WHERE (last_ms, session) < ($1, $2)${cond} ORDER BY last_ms DESC, session DESC LIMIT $3`;
  for (;;) {
    const got = await sql.unsafe<{ session: string; last_ms: number }[]>(text, [at.lastMs, at.session, WALK_PAGE, ...args] as never[], { prepare: true });
    for (const r of got) {
      if (!p.tq || p.textChecked || (await hasMatch(sql, r.session, p.tq))) {
        out.push({ lastMs: r.last_ms, session: r.session });
        if (out.length >= p.want) return out;
      }
    }
    const last = got[got.length - 1];
    if (got.length < WALK_PAGE || !last) return out;
    at = { lastMs: last.last_ms, session: last.session };
  }
}

function eventValue(value: string, vjson: number): LatestValue['value'] {
  return vjson ? JSON.parse(value) : value;
}

/** A session's summary over every day it has events in, or null when it has neither events nor a registration. */
export async function sessionSummary(sql: Sql, session: string): Promise<SessionSummary | null> {
  const s = pgText(session);
  // Pipelined: five reads, one round trip's wait.
  const [totals, levelRows, fieldRows, latestRows, reg] = await Promise.all([
    sql<{ first_ms: number; first_seq: number; last_ms: number; last_seq: number; count: number }[]>`
      SELECT first_ms, first_seq, last_ms, last_seq, count FROM sessions WHERE session = ${s}`,
    sql<{ level: string; count: number }[]>`
      SELECT level, sum(count)::bigint AS count FROM session_levels WHERE session = ${s} GROUP BY level ORDER BY level`,
    sql<{ field: 'user' | 'terminal' | 'component'; value: string }[]>`
      SELECT DISTINCT field, value FROM session_fields WHERE session = ${s} AND field IN ('user', 'terminal', 'component')`,
    sql<{ key: string; ms: number; seq: number; value: string; vjson: number; ts: number | null }[]>`
      SELECT DISTINCT ON (l.key) l.key, e.ms, e.seq, e.value, e.vjson, e.ts
      FROM session_latest l JOIN events e ON e.ms = l.ms AND e.seq = l.seq
      WHERE l.session = ${s} ORDER BY l.key, l.ms DESC, l.seq DESC`,
    registration(sql, session),
  ]);
  const t = totals[0];
  if (!t && !reg) return null;
  // Keys and levels are user data ("__proto__" is a fine key): Object.fromEntries defines own
  // properties, never the prototype, and gives plain objects as the embedded store returns.
  const levels: Record<string, number> = Object.fromEntries(levelRows.map((l) => [l.level, l.count]));
  const latest: Record<string, LatestValue> = Object.fromEntries(
    latestRows.map((raw) => {
      const k = decodeRow({
        ...raw,
        session: '',
        component: null,
        user: null,
        terminal: null,
        step: null,
        level: null,
        attrs: null,
        producer: null,
        pseq: null,
      });
      return [k.key, { id: `${k.ms}-${k.seq}`, ts: new Date(k.ts ?? k.ms).toISOString(), value: eventValue(k.value, k.vjson) }];
    }),
  );
  const seen = { user: new Set<string>(), terminal: new Set<string>(), component: new Set<string>() };
  for (const f of fieldRows) seen[f.field].add(f.value);
  const sorted = (x: Set<string>) => [...x].sort(compareCodePoints);
  const out: SessionSummary = {
    session,
    first: t ? new Date(t.first_ms).toISOString() : null,
    last: t ? new Date(t.last_ms).toISOString() : null,
    firstId: t ? `${t.first_ms}-${t.first_seq}` : null,
    lastId: t ? `${t.last_ms}-${t.last_seq}` : null,
    count: t ? t.count : 0,
    levels,
    users: sorted(seen.user),
    terminals: sorted(seen.terminal),
    components: sorted(seen.component),
    latest,
  };
  if (reg) out.registered = { user: reg.user, terminal: reg.terminal, attrs: reg.attrs, updated: reg.updated };
  return out;
}

export async function listSessions(sql: Sql, q: SessionsQuery): Promise<SessionPage> {
  const tq = parseTextQuery(q.q);
  const cursor = q.after ? decodeSessionCursor(q.after) : null;
  const plan: Plan = { q, tq, textChecked: false, cursor, want: q.limit + 1 };
  let candidates = await fieldCandidates(sql, q);
  if (candidates === null && tq !== null) {
    candidates = await indexCandidates(sql, tq);
    plan.textChecked = candidates !== null;
  }
  const prefix = q.prefix;
  if (candidates !== null && prefix !== undefined) candidates = new Set([...candidates].filter((s) => s.startsWith(prefix)));
  const listed = candidates !== null && candidates.size <= MAX_RANKED ? await rank(sql, candidates, plan) : await walk(sql, candidates, plan);
  const more = listed.length > q.limit;
  if (more) listed.length = q.limit;
  const sessions = (await Promise.all(listed.map((item) => sessionSummary(sql, item.session)))).filter((s): s is SessionSummary => s !== null);
  const tail = listed[listed.length - 1];
  return { sessions, next: more && tail ? encodeSessionCursor(tail) : null };
}
