/**
 * The Store seam. The embedded SQLite store (a file per day) and, later, PostgreSQL (a partition
 * per day) implement it; nothing outside `main.ts` knows which one runs.
 *
 * Concurrency contract: `append` calls are issued by one writer at a time and must commit in call
 * order; reads may run concurrently with each other and with `append`. Every method is async:
 * an implementation never does synchronous storage I/O on the caller's thread.
 */
import type { EventId, StoredEvent } from '@logsrv/protocol';
import type { IdentifiedBatch } from '../batch/index.js';
import type { KeyCount, KeyMinute, LevelMinute, ReportWindow } from './rollups.js';
import type { RenderedPage, TextFormat } from './row-text.js';

/** What one append did besides storing. */
export interface AppendResult {
  /**
   * Indices (ascending) of the batch's events not stored because their `(producer, seq)` was
   * already committed (SPEC §1 idempotency; the rule is in sqlite/writer-worker.ts) or because an
   * event with the same id already is (a batch committed by a writer that died before its
   * acknowledgement, delivered again). They are acknowledged all the same.
   */
  skipped?: number[];
}

export interface SessionQuery {
  session: string;
  /** Exclusive lower bound; null reads from the session's first event. */
  after: EventId | null;
  /**
   * Exclusive upper bound: the page is the `limit` events just before it (still in id order),
   * for reading backwards. Not combined with `after` or `q`.
   */
  before?: EventId | null | undefined;
  limit: number;
  key?: string | undefined;
  step?: string | undefined;
  /** Full-text filter on values (search/text-query.ts syntax). */
  q?: string | undefined;
}

/**
 * Events of any session matching the filters, in id order, inside the id range `(after, until]`.
 * Live tails read history with `until` set to the hub's watermark, so history and live events
 * meet exactly at one id.
 */
export interface EventsQuery {
  /** Exclusive lower bound; null reads from the first stored event. */
  after: EventId | null;
  /** Inclusive upper bound; null means no bound. */
  until: EventId | null;
  limit: number;
  session?: string | undefined;
  key?: string | undefined;
  step?: string | undefined;
  component?: string | undefined;
  user?: string | undefined;
  terminal?: string | undefined;
  level?: string | undefined;
  /** Full-text filter on values (search/text-query.ts syntax). */
  q?: string | undefined;
}

/** Where a session ends, as far as the ids `≤ until` tell (see `isSessionEnd` in the protocol). */
export interface SessionEnd {
  /** Id of the first end event of the session in `(after, until]`, or null. */
  first: string | null;
  /** Id of the session's newest event `≤ until` when that event is an end event, else null. */
  endedAt: string | null;
}

export interface EventPage {
  events: StoredEvent[];
  /** Id of the last event returned when more events follow it; null when the page is the end. */
  next: string | null;
  /** Only for a `before` read: id of the first event returned when more events precede it, else null. */
  prev?: string | null;
}

/** What `PUT /v1/sessions/:session` sets (SPEC §5). */
export interface Registration {
  user?: string | undefined;
  terminal?: string | undefined;
  attrs?: Record<string, unknown> | undefined;
}

export interface RegisteredSession {
  session: string;
  user: string | null;
  terminal: string | null;
  attrs: Record<string, unknown> | null;
  /** RFC 3339 time of the registration. */
  updated: string;
}

/** Current session of each user and terminal: `[user, session]` pairs. */
export interface RegistryMappings {
  users: [string, string][];
  terminals: [string, string][];
}

export interface RegistrationResult {
  created: boolean;
  registration: RegisteredSession;
  /** For each user/terminal the registration touched, the session now current for it (null: none). */
  mappings: { users: [string, string | null][]; terminals: [string, string | null][] };
}

/** `GET /v1/sessions`: sessions with events, newest activity first. Filters combine with AND. */
export interface SessionsQuery {
  /** Sessions with an event naming this user, or registered to it. */
  user?: string | undefined;
  terminal?: string | undefined;
  /** Sessions with an event from this component. */
  component?: string | undefined;
  /** Active in [from, to] (epoch ms of receipt, inclusive): last event ≥ from, first ≤ to. */
  from?: number | undefined;
  to?: number | undefined;
  /** Sessions with an event matching this full-text query. */
  q?: string | undefined;
  /** Only sessions whose name starts with this. */
  prefix?: string | undefined;
  limit: number;
  /** Cursor from a previous page's `next`. */
  after?: string | undefined;
}

export interface LatestValue {
  id: string;
  ts: string;
  value: string | number | boolean | Record<string, unknown>;
}

/** A session as `GET /v1/sessions` lists it: merged over every day it has events in. */
export interface SessionSummary {
  session: string;
  /** Receipt time and id of its first and last stored event; null while it has none. */
  first: string | null;
  last: string | null;
  firstId: string | null;
  lastId: string | null;
  count: number;
  /** Events per `level`. */
  levels: Record<string, number>;
  /** Distinct values its events carried. */
  users: string[];
  terminals: string[];
  components: string[];
  /** The latest event of each key: a later event with the same key is an update. */
  latest: Record<string, LatestValue>;
  /** Its registry entry, when it has one. */
  registered?: Omit<RegisteredSession, 'session'>;
}

export interface SessionPage {
  sessions: SessionSummary[];
  /** Cursor for the next page (`after=`), or null. */
  next: string | null;
}

export interface Store {
  /**
   * Durably commits the batch with the ids it carries (they survive `kill -9` once this
   * resolves). Events whose `(producer, seq)` is already committed, or whose id is already
   * stored, are skipped (`AppendResult.skipped`): appending the same batch twice stores it once.
   */
  append(batch: IdentifiedBatch): Promise<AppendResult>;
  /**
   * The writer's queue is filling up (true) or has drained again (false): see
   * WriterOptions.pressedDepth. While pressed, commits — one already waiting included — do not wait
   * for work the store does after them and can catch up on later (SQLite's search index may lag
   * up to `--search-index-burst-lag-rows`, not `--search-index-max-lag-rows`), so a burst waits
   * on disk rather than in a queue that refuses events once full. Absent: nothing to defer.
   */
  queuePressed?(pressed: boolean): void;
  /**
   * Rows committed but not yet in the full-text index, for stores that index after the commit
   * (SQLite's index thread); searches are exact at any lag. Absent: the index is part of the commit.
   */
  searchIndexLagRows?(): number;
  /**
   * Seconds the store's writer has waited, since it opened, for that index to come within its lag
   * bound (backpressure: commits, and so ingest, wait meanwhile). Absent: it never waits for it.
   */
  searchIndexWaitSeconds?(): number;
  /**
   * Rows committed but not yet in their sessions' chunks (SQLite's session chunk thread); session
   * pages read those rows from the day file, so they are exact at any lag. Absent: no chunks.
   */
  sessionChunksLagRows?(): number;
  /** One session's events in id order after a cursor, across day partitions. */
  readSession(q: SessionQuery): Promise<EventPage>;
  /** Events of all sessions matching the filters, in id order, across day partitions. */
  readEvents(q: EventsQuery): Promise<EventPage>;
  /**
   * {@link readSession} and {@link readEvents} rendered as a response body (row-text.ts): the same
   * bytes as rendering their pages, produced where the rows are read.
   */
  renderSession(q: SessionQuery, format: TextFormat): Promise<RenderedPage>;
  renderEvents(q: EventsQuery, format: TextFormat): Promise<RenderedPage>;
  /** Where `session` ends in `(after, until]`; tails use it to send `event: end`. */
  sessionEnd(session: string, after: EventId | null, until: EventId | null): Promise<SessionEnd>;
  /** Sessions with stored events matching the filters, latest activity first (SPEC §3). */
  listSessions(q: SessionsQuery): Promise<SessionPage>;
  /** One session's summary, or null when it has neither events nor a registration. */
  sessionSummary(session: string): Promise<SessionSummary | null>;
  /** Creates or replaces a registration (SPEC §5); durable once this resolves. */
  register(session: string, reg: Registration, nowMs: number): Promise<RegistrationResult>;
  /** Every user's and terminal's current session, to fill the enrichment cache at start. */
  registryMappings(): Promise<RegistryMappings>;
  /** The newest id committed, or null for an empty store. */
  lastId(): Promise<EventId | null>;
  /**
   * Retention (SPEC §6): moves every day partition before `before` (`YYYYMMDD`, at most `today`)
   * out of the store into archives that `logsrv restore` can load back. Never blocks the caller's
   * thread on the copying.
   */
  archive(before: string, today: string): Promise<ArchivedDayInfo[]>;
  /**
   * Reports (rollups.ts): read from the rollups kept per minute, never from raw events. Events per
   * minute, component and level in the window, in (minute, component, level) order.
   */
  reportLevels(w: ReportWindow): Promise<LevelMinute[]>;
  /** Events per key in the window, most first (ties by key), at most `limit`. */
  reportKeys(w: ReportWindow, limit: number): Promise<KeyCount[]>;
  /** The numeric values of `key` per minute of the window (minutes with none left out), ascending. */
  reportKeyMinutes(w: ReportWindow, key: string): Promise<KeyMinute[]>;
  close(): Promise<void>;
}

export interface ArchivedDayInfo {
  /** `YYYYMMDD` */
  day: string;
  events: number;
  /** The day's size in the store, and of its archive. */
  bytes: number;
  archiveBytes: number;
  /** Where the archive is. */
  file: string;
}
