/**
 * `GET /v1/sessions` in a reader thread: sessions with their summaries, latest activity first.
 *
 * A session's summary is the merge of its rows in the day files it has events in (day-index.ts):
 * first from the oldest, last from the newest, counts summed, the latest value of a key from the
 * newest day that has the key. Listing never scans events. Two ways to find the sessions:
 * - ranking candidates: when a filter names few sessions — a user/terminal/component (from
 *   session_fields and the registry) or a rare `q` word (from the full-text index) — each
 *   candidate's last activity is looked up and the set sorted;
 * - walking the day files newest first through their (last_ms, session) index, skipping sessions
 *   whose last activity is in a newer day, checking filters per session, until the page is full.
 */
import { dayOf } from '@logsrv/protocol';
import type Database from 'better-sqlite3';
import type { TextQuery } from '../../search/index.js';
import { ftsExpression, parseTextQuery } from '../../search/index.js';
import type { SessionCursor } from '../session-cursor.js';
import { compareCodePoints, compareListed, decodeSessionCursor, encodeSessionCursor } from '../session-cursor.js';
import type { LatestValue, RegisteredSession, SessionPage, SessionSummary, SessionsQuery } from '../store.js';
import { indexTable } from './day-index.js';
import type { DayText, ReadContext } from './read-events.js';
import { dayText, indexCount, isNoSuchTable, NO_BOUND, readDay } from './read-events.js';

export interface SessionsContext extends ReadContext {
  /** A read-only connection to registry.db, or null while it does not exist. */
  registry(): Database.Database | null;
}

/** Candidate sets up to this size are ranked; larger ones are checked while walking the days. */
const MAX_RANKED = 20_000;
/** A `q` whose rarest word is in at most this many events picks its sessions from the index. */
const MAX_INDEX_DRIVEN = 20_000;

type Day = [string, Database.Database];

interface DayRow {
  first_ms: number;
  first_seq: number;
  last_ms: number;
  last_seq: number;
  count: number;
}

function dayRow(ctx: ReadContext, [day, db]: Day, session: string): DayRow | undefined {
  try {
    return ctx.stmt(day, db, 'SELECT first_ms, first_seq, last_ms, last_seq, count FROM session_summary WHERE session = ?').get(session) as DayRow | undefined;
  } catch (err) {
    if (isNoSuchTable(err)) return undefined;
    throw err;
  }
}

const registryStatements = new WeakMap<Database.Database, Map<string, Database.Statement>>();
function registryStmt(reg: Database.Database, sql: string): Database.Statement {
  let m = registryStatements.get(reg);
  if (!m) {
    m = new Map();
    registryStatements.set(reg, m);
  }
  let s = m.get(sql);
  if (!s) {
    s = reg.prepare(sql);
    m.set(sql, s);
  }
  return s;
}

function registration(ctx: SessionsContext, session: string): RegisteredSession | null {
  const reg = ctx.registry();
  if (!reg) return null;
  const r = registryStmt(reg, 'SELECT user, terminal, attrs, updated_ms FROM registry WHERE session = ?').get(session) as
    | { user: string | null; terminal: string | null; attrs: string | null; updated_ms: number }
    | undefined;
  if (!r) return null;
  return { session, user: r.user, terminal: r.terminal, attrs: r.attrs === null ? null : JSON.parse(r.attrs), updated: new Date(r.updated_ms).toISOString() };
}

/** Whether `session` has an event matching `tq` in any day (the cheapest plan per day). */
function hasMatch(ctx: ReadContext, days: Day[], session: string, tq: TextQuery): boolean {
  const range = { lo: { ms: -1, seq: -1 }, hi: { ms: NO_BOUND, seq: NO_BOUND } };
  for (const [day, db] of days) {
    try {
      if (readDay(ctx, day, db, { session, q: tq.source, after: null, until: null, limit: 1 }, tq, range, 1).length > 0) return true;
    } catch (err) {
      if (!isNoSuchTable(err)) throw err;
    }
  }
  return false;
}

/** Sessions with events naming every given user/terminal/component, or registered to the user/terminal. */
function fieldCandidates(ctx: SessionsContext, days: Day[], q: SessionsQuery): Set<string> | null {
  let out: Set<string> | null = null;
  for (const field of ['user', 'terminal', 'component'] as const) {
    const value = q[field];
    if (value === undefined) continue;
    const found = new Set<string>();
    for (const [day, db] of days) {
      try {
        for (const r of ctx.stmt(day, db, 'SELECT session FROM session_fields WHERE field = ? AND value = ?').iterate(field, value) as Iterable<{
          session: string;
        }>) {
          found.add(r.session);
        }
      } catch (err) {
        if (!isNoSuchTable(err)) throw err;
      }
    }
    const reg = field === 'component' ? null : ctx.registry();
    if (reg) {
      for (const r of registryStmt(reg, `SELECT session FROM registry WHERE ${field} = ?`).iterate(value) as Iterable<{ session: string }>)
        found.add(r.session);
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

/** Sessions with an event matching a rare `q`, from the index; null when the index cannot say cheaply. */
function indexCandidates(ctx: ReadContext, days: Day[], tq: TextQuery): Set<string> | null {
  const texts: DayText[] = [];
  let total = 0;
  for (const [day, db] of days) {
    const t = dayText(ctx, day, db);
    // A day without an index, or whose index lags its commits, cannot answer from the index alone.
    if (t === null || t.lagging) return null;
    total += indexCount(ctx, day, db, t, tq, MAX_INDEX_DRIVEN + 1 - total);
    if (total > MAX_INDEX_DRIVEN) return null;
    texts.push(t);
  }
  const out = new Set<string>();
  const expr = ftsExpression(tq);
  days.forEach(([day, db], i) => {
    const text = texts[i] as DayText;
    for (const k of text.chunks) {
      const t = indexTable(k);
      const sql = `SELECT DISTINCT e.session FROM ${text.schema}.${t} f JOIN events e ON e.rowid = f.rowid WHERE f.${t} MATCH ?`;
      for (const r of ctx.stmt(day, db, sql).iterate(expr) as Iterable<{ session: string }>) out.add(r.session);
    }
  });
  return out;
}

interface Listed extends SessionCursor {}

interface Plan {
  q: SessionsQuery;
  tq: TextQuery | null;
  /** `q` is already known to hold for every candidate. */
  textChecked: boolean;
  cursor: SessionCursor | null;
  /** Sessions wanted: the page plus one, to know whether another page follows. */
  want: number;
}

function inTimeRange(q: SessionsQuery, firstMs: number, lastMs: number): boolean {
  return (q.from === undefined || lastMs >= q.from) && (q.to === undefined || firstMs <= q.to);
}

function rank(ctx: ReadContext, days: Day[], candidates: Set<string>, p: Plan): Listed[] {
  const listed: Listed[] = [];
  const timeOrText = p.q.from !== undefined || p.q.to !== undefined || p.tq !== null;
  for (const session of candidates) {
    let last: DayRow | undefined;
    let first: DayRow | undefined;
    for (const d of days) {
      const r = dayRow(ctx, d, session);
      if (!r) continue;
      last ??= r;
      first = r;
    }
    let item: Listed;
    if (!last || !first) {
      // Registered, no events yet: listed last, and only when nothing asks about its events.
      if (timeOrText) continue;
      item = { lastMs: -1, session };
    } else {
      if (!inTimeRange(p.q, first.first_ms, last.last_ms)) continue;
      item = { lastMs: last.last_ms, session };
    }
    if (p.cursor && compareListed(item, p.cursor) <= 0) continue;
    listed.push(item);
  }
  listed.sort(compareListed);
  if (!p.tq || p.textChecked) return listed.slice(0, p.want);
  const out: Listed[] = [];
  for (const item of listed) {
    if (hasMatch(ctx, days, item.session, p.tq)) out.push(item);
    if (out.length >= p.want) break;
  }
  return out;
}

function walk(ctx: ReadContext, days: Day[], members: Set<string> | null, p: Plan): Listed[] {
  const out: Listed[] = [];
  const { q, cursor } = p;
  // Registered sessions without events (lastMs -1) are only listed by rank().
  if (cursor && cursor.lastMs < 0) return out;
  const sql = 'SELECT session, first_ms, last_ms FROM session_summary WHERE (last_ms, session) < (?, ?) ORDER BY last_ms DESC, session DESC';
  for (let di = 0; di < days.length; di++) {
    const d = days[di] as Day;
    const [day, db] = d;
    // Every session whose last event is in a day after the cursor's was listed before it.
    if (cursor && day > dayOf(cursor.lastMs)) continue;
    if (q.from !== undefined && day < dayOf(q.from)) break;
    let rows: Iterable<{ session: string; first_ms: number; last_ms: number }>;
    try {
      rows = ctx.stmt(day, db, sql).iterate(cursor ? cursor.lastMs : NO_BOUND, cursor ? cursor.session : '') as Iterable<{
        session: string;
        first_ms: number;
        last_ms: number;
      }>;
    } catch (err) {
      if (isNoSuchTable(err)) continue;
      throw err;
    }
    for (const r of rows) {
      if (q.from !== undefined && r.last_ms < q.from) return out; // the rest, and older days, are older
      if (members && !members.has(r.session)) continue;
      if (q.prefix !== undefined && !r.session.startsWith(q.prefix)) continue;
      // Its last activity is in a newer day: listed (or skipped) there.
      if (days.slice(0, di).some((newer) => dayRow(ctx, newer, r.session) !== undefined)) continue;
      if (q.to !== undefined && r.first_ms > q.to) {
        let first = r.first_ms;
        for (const older of days.slice(di + 1)) first = dayRow(ctx, older, r.session)?.first_ms ?? first;
        if (first > q.to) continue;
      }
      if (p.tq && !p.textChecked && !hasMatch(ctx, days, r.session, p.tq)) continue;
      out.push({ lastMs: r.last_ms, session: r.session });
      if (out.length >= p.want) return out;
    }
  }
  return out;
}

function eventValue(value: string, vjson: number): LatestValue['value'] {
  return vjson ? JSON.parse(value) : value;
}

/** A session's summary merged over every day file it has events in, or null when it has neither events nor a registration. */
function summarize(ctx: SessionsContext, days: Day[], session: string): SessionSummary | null {
  let first: DayRow | undefined;
  let last: DayRow | undefined;
  let count = 0;
  // Null-prototype maps: keys and levels are user data ("__proto__" is a fine key).
  const levels: Record<string, number> = Object.create(null);
  const latest: Record<string, LatestValue> = Object.create(null);
  const seen = { user: new Set<string>(), terminal: new Set<string>(), component: new Set<string>() };
  for (const d of days) {
    const [day, db] = d;
    const r = dayRow(ctx, d, session);
    if (!r) continue;
    last ??= r;
    first = r;
    count += r.count;
    for (const l of ctx.stmt(day, db, 'SELECT level, count FROM session_levels WHERE session = ?').iterate(session) as Iterable<{
      level: string;
      count: number;
    }>) {
      levels[l.level] = (levels[l.level] ?? 0) + l.count;
    }
    for (const f of ctx
      .stmt(day, db, "SELECT field, value FROM session_fields WHERE session = ? AND field IN ('user', 'terminal', 'component')")
      .iterate(session) as Iterable<{ field: 'user' | 'terminal' | 'component'; value: string }>) {
      seen[f.field].add(f.value);
    }
    const latestSql = 'SELECT l.key, e.ms, e.seq, e.value, e.vjson, e.ts FROM session_latest l JOIN events e ON e.rowid = l.row WHERE l.session = ?';
    for (const k of ctx.stmt(day, db, latestSql).iterate(session) as Iterable<{
      key: string;
      ms: number;
      seq: number;
      value: string;
      vjson: number;
      ts: number | null;
    }>) {
      // Days are visited newest first: a key's newest day has its latest value.
      if (latest[k.key] !== undefined) continue;
      latest[k.key] = { id: `${k.ms}-${k.seq}`, ts: new Date(k.ts ?? k.ms).toISOString(), value: eventValue(k.value, k.vjson) };
    }
  }
  const reg = registration(ctx, session);
  if (!last && !reg) return null;
  const sorted = (s: Set<string>) => [...s].sort(compareCodePoints);
  const out: SessionSummary = {
    session,
    first: first ? new Date(first.first_ms).toISOString() : null,
    last: last ? new Date(last.last_ms).toISOString() : null,
    firstId: first ? `${first.first_ms}-${first.first_seq}` : null,
    lastId: last ? `${last.last_ms}-${last.last_seq}` : null,
    count,
    levels,
    users: sorted(seen.user),
    terminals: sorted(seen.terminal),
    components: sorted(seen.component),
    latest,
  };
  if (reg) out.registered = { user: reg.user, terminal: reg.terminal, attrs: reg.attrs, updated: reg.updated };
  return out;
}

function openDays(ctx: ReadContext): Day[] {
  const days: Day[] = [];
  for (const day of ctx.days().reverse()) {
    const db = ctx.conn(day);
    if (db) days.push([day, db]);
  }
  return days;
}

export function listSessions(ctx: SessionsContext, q: SessionsQuery): SessionPage {
  const days = openDays(ctx);
  const tq = parseTextQuery(q.q);
  const cursor = q.after ? decodeSessionCursor(q.after) : null;
  const plan: Plan = { q, tq, textChecked: false, cursor, want: q.limit + 1 };
  let candidates = fieldCandidates(ctx, days, q);
  if (candidates === null && tq !== null) {
    candidates = indexCandidates(ctx, days, tq);
    plan.textChecked = candidates !== null;
  }
  const prefix = q.prefix;
  if (candidates !== null && prefix !== undefined) candidates = new Set([...candidates].filter((s) => s.startsWith(prefix)));
  const listed = candidates !== null && candidates.size <= MAX_RANKED ? rank(ctx, days, candidates, plan) : walk(ctx, days, candidates, plan);
  const more = listed.length > q.limit;
  if (more) listed.length = q.limit;
  const sessions: SessionSummary[] = [];
  for (const item of listed) {
    const s = summarize(ctx, days, item.session);
    if (s) sessions.push(s);
  }
  const tail = listed[listed.length - 1];
  return { sessions, next: more && tail ? encodeSessionCursor(tail) : null };
}

export function sessionSummary(ctx: SessionsContext, session: string): SessionSummary | null {
  return summarize(ctx, openDays(ctx), session);
}
