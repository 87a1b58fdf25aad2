/**
 * The PostgreSQL schema: an `events` table partitioned by range on `ms` with one partition per UTC
 * day (`events_YYYYMMDD`, no DEFAULT partition: `DETACH PARTITION … CONCURRENTLY` refuses a table
 * that has one), producer marks, session summaries per day (so a day leaves the store with
 * everything that describes it) plus one row per session for the listing order, and the session
 * registry. The URL picks the database; everything lives in its search path (normally `public`).
 *
 * Every text column that is compared or ordered uses COLLATE "C": byte order of UTF-8, which is
 * code point order, the order SQLite's BINARY collation gives (session listings page identically).
 *
 * `words` holds the event's value as the full-text index sees it: the tokens of
 * search/tokenize.ts, in order, computed in Node at append time (the project's tokenizer stays the
 * one source of truth; PostgreSQL never tokenizes). A GIN index on it finds candidate rows by
 * containment; phrases and prefixes are checked exactly on the same tokens (text-sql.ts). With
 * the search index off, `words` is left NULL (storing it costs about as much as the rest of the
 * row) and the day is listed in `unindexed_days`: a `q` over such a day is checked in Node with
 * `matchesText`, as the embedded store scans its day files that have no index.
 */
import type { Sql } from 'postgres';

/**
 * Bumped when the schema changes in a way `migrate` must act on. 2: report rollups (rollups.ts,
 * built from the stored rows by `migrateRollups` when a database of version 1 is opened). 3: the
 * rollups' rows in parts, one per writer (made again from the stored rows from 1 or 2).
 */
export const PG_SCHEMA_VERSION = 3;
export const DAY_MS = 86_400_000;

/** Columns read back, in the order of rows.ts's EventRowLike (`user` is a reserved word). */
export const SELECT_COLUMNS = 'ms, seq, session, key, value, vjson, ts, component, "user", terminal, step, level, attrs, producer, pseq';

/** Columns written by COPY, in the order copy-rows.ts encodes them. */
export const COPY_COLUMNS = `${SELECT_COLUMNS}, words`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS logsrv_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  ms        bigint   NOT NULL,
  seq       bigint   NOT NULL,
  session   text     COLLATE "C" NOT NULL,
  key       text     COLLATE "C" NOT NULL,
  value     text     NOT NULL,
  -- 0: value is a string, 1: JSON text; +2: the row's text fields are NUL-escaped (copy-rows.ts)
  vjson     smallint NOT NULL,
  ts        bigint,
  component text     COLLATE "C",
  "user"    text     COLLATE "C",
  terminal  text     COLLATE "C",
  step      text     COLLATE "C",
  level     text     COLLATE "C",
  attrs     text,
  producer  text     COLLATE "C",
  pseq      bigint,
  -- NULL when written with the search index off (then listed in unindexed_days)
  words     text[],
  PRIMARY KEY (ms, seq)
) PARTITION BY RANGE (ms);
CREATE INDEX IF NOT EXISTS events_session_id ON events (session, ms, seq);
-- Days holding rows written without tokens (--search-index off): q checks their rows in Node.
CREATE TABLE IF NOT EXISTS unindexed_days (day integer PRIMARY KEY);
-- Idempotency marks: the highest seq committed per producer and session, keyed by the JSON [producer, session] (append.ts).
CREATE TABLE IF NOT EXISTS producers (
  producer text   COLLATE "C" PRIMARY KEY,
  seq      bigint NOT NULL
);
-- One row per session with stored events: the listing order of GET /v1/sessions.
CREATE TABLE IF NOT EXISTS sessions (
  session   text   COLLATE "C" PRIMARY KEY,
  first_ms  bigint NOT NULL,
  first_seq bigint NOT NULL,
  last_ms   bigint NOT NULL,
  last_seq  bigint NOT NULL,
  count     bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_last ON sessions (last_ms, session);
-- Per day (YYYYMMDD as an integer): what the day's events say about each session.
CREATE TABLE IF NOT EXISTS session_days (
  session   text    COLLATE "C" NOT NULL,
  day       integer NOT NULL,
  first_ms  bigint  NOT NULL,
  first_seq bigint  NOT NULL,
  last_ms   bigint  NOT NULL,
  last_seq  bigint  NOT NULL,
  count     bigint  NOT NULL,
  PRIMARY KEY (session, day)
);
CREATE INDEX IF NOT EXISTS session_days_day ON session_days (day);
CREATE TABLE IF NOT EXISTS session_levels (
  session text    COLLATE "C" NOT NULL,
  day     integer NOT NULL,
  level   text    COLLATE "C" NOT NULL,
  count   bigint  NOT NULL,
  PRIMARY KEY (session, day, level)
);
CREATE INDEX IF NOT EXISTS session_levels_day ON session_levels (day);
-- The id of the latest event of each key (its value is read from events).
CREATE TABLE IF NOT EXISTS session_latest (
  session text    COLLATE "C" NOT NULL,
  key     text    COLLATE "C" NOT NULL,
  day     integer NOT NULL,
  ms      bigint  NOT NULL,
  seq     bigint  NOT NULL,
  PRIMARY KEY (session, key, day)
);
CREATE INDEX IF NOT EXISTS session_latest_day ON session_latest (day);
CREATE INDEX IF NOT EXISTS session_latest_key ON session_latest (key, session);
-- Which sessions have events with user/terminal/component/level/step = value.
CREATE TABLE IF NOT EXISTS session_fields (
  field   text    COLLATE "C" NOT NULL,
  value   text    COLLATE "C" NOT NULL,
  session text    COLLATE "C" NOT NULL,
  day     integer NOT NULL,
  PRIMARY KEY (field, value, session, day)
);
CREATE INDEX IF NOT EXISTS session_fields_session ON session_fields (session, field);
CREATE INDEX IF NOT EXISTS session_fields_day ON session_fields (day);
-- The session registry (SPEC §5); version orders registrations without trusting clocks.
CREATE SEQUENCE IF NOT EXISTS registry_version;
CREATE TABLE IF NOT EXISTS registry (
  session    text   COLLATE "C" PRIMARY KEY,
  "user"     text   COLLATE "C",
  terminal   text   COLLATE "C",
  attrs      text,
  updated_ms bigint NOT NULL,
  version    bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_user ON registry ("user", version);
CREATE INDEX IF NOT EXISTS registry_terminal ON registry (terminal, version);
`;

/** Lock id (any constant) that serializes schema and partition DDL across processes. */
export const DDL_LOCK = 0x6c6f6773; // 'logs'

/**
 * Creates or completes the schema, idempotently and safely from several processes at once (an
 * advisory lock serializes them). Throws when the database holds a newer schema than this code.
 */
export async function migrate(sql: Sql): Promise<void> {
  // A schema already at this version is left alone: `CREATE INDEX IF NOT EXISTS` still locks the
  // table against writes while it looks, which would make every instance's start wait for appends.
  const [has] = await sql<{ t: string | null }[]>`SELECT to_regclass('logsrv_schema')::text AS t`;
  if (has?.t) {
    const [v] = await sql<{ version: number | null }[]>`SELECT max(version) AS version FROM logsrv_schema`;
    if (v?.version === PG_SCHEMA_VERSION) return;
  }
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${DDL_LOCK})`;
    await tx.unsafe(SCHEMA).simple();
    const [row] = await tx<{ version: number }[]>`SELECT max(version) AS version FROM logsrv_schema`;
    const version = row?.version ?? null;
    if (version !== null && version > PG_SCHEMA_VERSION) {
      throw new Error(`the database holds logsrv schema ${version}; this logsrv reads up to ${PG_SCHEMA_VERSION}: upgrade logsrv`);
    }
    if (version === null) await tx`INSERT INTO logsrv_schema (version) VALUES (${PG_SCHEMA_VERSION})`;
  });
}

/** For a read-only store: the schema must be there already (a writer creates it). */
export async function checkSchema(sql: Sql): Promise<void> {
  const [row] = await sql<{ t: string | null }[]>`SELECT to_regclass('logsrv_schema')::text AS t`;
  if (!row?.t) throw new Error('the database has no logsrv schema yet: start a writer (--store) on it first; a read-only store never creates it');
  const [v] = await sql<{ version: number | null }[]>`SELECT max(version) AS version FROM logsrv_schema`;
  if (v?.version != null && v.version > PG_SCHEMA_VERSION) {
    throw new Error(`the database holds logsrv schema ${v.version}; this logsrv reads up to ${PG_SCHEMA_VERSION}: upgrade logsrv`);
  }
}

/** `20261121` → the day's partition table name. */
export function partitionName(day: string): string {
  if (!/^\d{8}$/.test(day)) throw new Error(`bad day ${day}`);
  return `events_${day}`;
}
