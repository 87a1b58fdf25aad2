/**
 * What a day file holds besides its events: per-session summaries, report rollups and, in files
 * of day schema ≤ 3, the full-text index. They are written by the writer thread in the same
 * transaction as the events they describe, so they are exactly as durable as the events, and
 * retention drops them with their day. New days keep their full-text index in a file of their own,
 * written by the index thread after the commit (index-file.ts); the chunking below is the same.
 *
 * Summaries (`GET /v1/sessions`): one row per session and day with first/last id and count, level
 * counts, the row of the latest event of each key, and the distinct user/terminal/component/
 * level/step values seen. A batch is folded in memory first (one upsert per session, key and value
 * of the batch — not per event), then applied. Readers merge a session's rows over the days they
 * find it in (read-sessions.ts); nothing is ever recomputed by scanning events.
 *
 * Full-text index (`q`) of a schema-3 file: FTS5 tables over `value` with external content (the
 * events table), so the index holds no second copy of the text. The tokenizer is search/unicode61-table.ts's, which
 * the JavaScript matcher of live tails replicates exactly. `--search-index off` leaves it out of
 * new day files; readers then search those days by scanning (see read-events.ts).
 *
 * The index of a day is cut into chunks of `--search-chunk-rows` rows, one FTS5 table each, named
 * by the first rowid they hold (`events_fts_1`, `events_fts_262145`, …): a chunk holds the rows
 * from its start to the next chunk's. Why: FTS5 reaches `rowid >= X` by
 * walking the word's list of rows from its start — measured here ~35 ns per matching row skipped,
 * so a common word searched from the end of a 3.3M-row day took 100–165 ms before its first match,
 * and a page deep into a day as long. With chunks a search starts in the chunk of its cursor and
 * skips at most one chunk's matches (~3 ms). Chunks also keep FTS5's segment merges small, so
 * indexing cost does not grow with the size of the day.
 */
import type Database from 'better-sqlite3';
import type { EventColumns } from '../../batch/index.js';
import { detached } from '../../batch/index.js';
import { stripEscapes } from '../../search/escapes.js';
import { TOKENIZER } from '../../search/index.js';
import type { RollupRows } from '../rollups.js';
import { encodeSketch, mergeSketchBlobs, RollupFolder } from '../rollups.js';
import { addRow, backfillRuns, prepareRunsWriter, SESSION_RUNS_SCHEMA } from './session-runs.js';

/**
 * `PRAGMA user_version` of a day file whose summary, rollup and session-run tables exist and are
 * complete, and whose index, if any, is chunked. Version 1 had one unchunked index (events_fts);
 * version 2 had no rollups, version 3 no session runs (session-runs.ts) — both are built from the
 * file's events when it is opened. Version 3 files started with the index on hold it in the file
 * (chunks `events_fts_<start>`, written by the writer in the events' transaction). From version 4
 * a new day's index is a file of its own (index-file.ts), written by the index thread; files of
 * version ≤ 3 keep theirs, and readers read both layouts.
 */
export const DAY_SCHEMA_VERSION = 4;

/**
 * Report rollups (store/rollups.ts): per minute, component and level; per minute, component and
 * key; per key, minute and component the numeric values (count, sum, min, max, sketch).
 */
function rollupTables(sfx: string): string {
  return `
CREATE TABLE IF NOT EXISTS rollup_levels${sfx} (
  minute    INTEGER NOT NULL,
  component TEXT    NOT NULL,
  level     TEXT    NOT NULL,
  events    INTEGER NOT NULL,
  PRIMARY KEY (minute, component, level)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_keys${sfx} (
  minute    INTEGER NOT NULL,
  component TEXT    NOT NULL,
  key       TEXT    NOT NULL,
  events    INTEGER NOT NULL,
  PRIMARY KEY (minute, component, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_values${sfx} (
  key       TEXT    NOT NULL,
  minute    INTEGER NOT NULL,
  component TEXT    NOT NULL,
  n         INTEGER NOT NULL,
  sum       REAL    NOT NULL,
  min       REAL    NOT NULL,
  max       REAL    NOT NULL,
  sketch    BLOB    NOT NULL,
  PRIMARY KEY (key, minute, component)
) WITHOUT ROWID;
`;
}

/** Per minute, and the same per hour (`_h`; `minute` is the hour's first). */
export const ROLLUP_SCHEMA = rollupTables('') + rollupTables('_h');

/** Upserts a batch's rollups (minute and hourly rows); sketches (binary, rollups.ts) merge by adding bucket counts. */
export function prepareRollupWriter(db: Database.Database): (folder: RollupFolder) => void {
  db.function('logsrv_sketch_merge', { deterministic: true }, (a: unknown, b: unknown) => mergeSketchBlobs(a as Uint8Array, b as Uint8Array));
  const statements = (sfx: string) => ({
    level: db.prepare(
      `INSERT INTO rollup_levels${sfx} (minute, component, level, events) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET events = events + excluded.events`,
    ),
    key: db.prepare(
      `INSERT INTO rollup_keys${sfx} (minute, component, key, events) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET events = events + excluded.events`,
    ),
    value: db.prepare(
      `INSERT INTO rollup_values${sfx} (key, minute, component, n, sum, min, max, sketch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max),
         sketch = logsrv_sketch_merge(sketch, excluded.sketch)`,
    ),
  });
  const tiers: [number, ReturnType<typeof statements>][] = [
    [1, statements('')],
    [60, statements('_h')],
  ];
  return (folder) => {
    for (const [unit, st] of tiers) {
      const rows: RollupRows = folder.rows(unit);
      for (const r of rows.levels) st.level.run(r);
      for (const r of rows.keys) st.key.run(r);
      for (const r of rows.values) st.value.run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], encodeSketch(r[7]));
    }
  };
}

/** Builds a day file's rollups from its events: only for files written before rollups existed. */
function backfillRollups(db: Database.Database): void {
  // From nothing: whatever a partial earlier attempt left is replaced.
  for (const t of ['rollup_levels', 'rollup_keys', 'rollup_values']) db.exec(`DELETE FROM ${t}; DELETE FROM ${t}_h;`);
  const write = prepareRollupWriter(db);
  let folder = new RollupFolder();
  let n = 0;
  const rows = db.prepare('SELECT ms, component, level, key, value, vjson FROM events ORDER BY rowid').raw(true);
  for (const r of rows.iterate() as Iterable<[number, string | null, string | null, string, string, number]>) {
    folder.add(r[0], r[1], r[2], r[3], r[4], r[5]);
    // Bounded memory: rows are flushed (and merged by the upserts) every so many events.
    if (++n % 200_000 === 0) {
      write(folder);
      folder = new RollupFolder();
    }
  }
  if (!folder.empty) write(folder);
}

/** Default rows per full-text index table (see above). */
export const INDEX_CHUNK_ROWS = 262_144;

export const SUMMARY_SCHEMA = `
CREATE TABLE IF NOT EXISTS session_summary (
  session   TEXT    PRIMARY KEY,
  first_ms  INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_ms   INTEGER NOT NULL,
  last_seq  INTEGER NOT NULL,
  count     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_summary_last ON session_summary (last_ms, session);
CREATE TABLE IF NOT EXISTS session_levels (
  session TEXT    NOT NULL,
  level   TEXT    NOT NULL,
  count   INTEGER NOT NULL,
  PRIMARY KEY (session, level)
) WITHOUT ROWID;
-- The latest event of each key: its rowid in events (the value is read from there).
CREATE TABLE IF NOT EXISTS session_latest (
  session TEXT    NOT NULL,
  key     TEXT    NOT NULL,
  row     INTEGER NOT NULL,
  PRIMARY KEY (session, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_latest_key ON session_latest (key, session);
-- Which sessions have events with user/terminal/component/level/step = value: the filters of
-- /v1/sessions, and the candidate sessions of a filtered /v1/events.
CREATE TABLE IF NOT EXISTS session_fields (
  field   TEXT NOT NULL,
  value   TEXT NOT NULL,
  session TEXT NOT NULL,
  PRIMARY KEY (field, value, session)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS session_fields_session ON session_fields (session);
`;

/** Fields recorded in session_fields. */
export const SESSION_FIELDS = ['user', 'terminal', 'component', 'level', 'step'] as const;
export type SessionField = (typeof SESSION_FIELDS)[number];

/** The full-text index table of the chunk whose first row is `start`. */
export function indexTable(start: number): string {
  return `events_fts_${start}`;
}

/** The schema of a chunk's index table; `events_fts_1` exists in every indexed day file. */
export function searchSchema(start: number): string {
  return `CREATE VIRTUAL TABLE IF NOT EXISTS ${indexTable(start)} USING fts5 (value, content = 'events', content_rowid = 'rowid', tokenize = '${TOKENIZER}')`;
}

/** The text the data set cache of the benchmark keys on (any change to the index's shape). */
export const SEARCH_SCHEMA = `${searchSchema(1)}; chunks named by first rowid`;

/** Lists the index chunks of a day file: run it, then {@link chunkStartsOf} on the names. */
export const CHUNK_NAMES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'events_fts_[0-9]*'";

/** First rowids of a day's index chunks from their table names, ascending (empty: no index). */
export function chunkStartsOf(names: string[]): number[] {
  const out: number[] = [];
  for (const n of names) {
    const m = /^events_fts_(\d+)$/.exec(n); // not the FTS5 shadow tables (events_fts_1_data, ...)
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(name) !== undefined;
}

/** Appends rows to a day's chunked index, opening a new chunk when the last one is full. */
class ChunkedIndex {
  private readonly inserts = new Map<number, Database.Statement>();
  constructor(
    private readonly db: Database.Database,
    private readonly chunkRows: number,
    /** Ascending; the last is the chunk being filled. */
    private readonly starts: number[],
  ) {
    // What the index tokenizes: the value as a terminal shows it (search/escapes.ts). Called only
    // for values that hold an ESC; the others go to the tokenizer without leaving SQLite.
    db.function('logsrv_index_text', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? stripEscapes(v) : v));
  }

  /** Indexes rows [from, to] (the next rows of the day, ascending). */
  add(from: number, to: number): void {
    while (from <= to) {
      let start = this.starts[this.starts.length - 1];
      if (start === undefined || from >= start + this.chunkRows) {
        start = from;
        this.db.exec(searchSchema(start));
        this.starts.push(start);
      }
      const end = Math.min(to, start + this.chunkRows - 1);
      let insert = this.inserts.get(start);
      if (!insert) {
        insert = this.db.prepare(
          `INSERT INTO ${indexTable(start)} (rowid, value)
           SELECT rowid, CASE WHEN instr(value, char(27)) > 0 THEN logsrv_index_text(value) ELSE value END FROM events WHERE rowid BETWEEN ? AND ?`,
        );
        this.inserts.set(start, insert);
      }
      insert.run(from, end);
      from = end + 1;
    }
  }
}

/**
 * Brings a day file's summary and search tables up to date, in one transaction: creates them for
 * a new file; for a file written before they existed, creates and fills them from its events (the
 * only time summaries are computed by scanning). `search` decides whether a file that has no index
 * gets one. Returns what it did, for the log.
 */
export function ensureDayTables(db: Database.Database, search: boolean, chunkRows = INDEX_CHUNK_ROWS): 'current' | 'created' | 'migrated' {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= DAY_SCHEMA_VERSION) return 'current';
  const empty = !hasTable(db, 'events') || db.prepare('SELECT 1 FROM events LIMIT 1').get() === undefined;
  // Version 1's unchunked index is replaced (when the file is to keep an index).
  const hadIndex = hasTable(db, 'events_fts');
  db.transaction(() => {
    db.exec(SUMMARY_SCHEMA);
    db.exec(ROLLUP_SCHEMA);
    db.exec(SESSION_RUNS_SCHEMA);
    if (version < 1 && !empty) backfillSummaries(db);
    if (version < 3 && !empty) backfillRollups(db);
    if (version < 4 && !empty) backfillRuns(db);
    if (hadIndex) db.exec('DROP TABLE IF EXISTS events_fts_words; DROP TABLE events_fts;');
    // A file written before the index moved out (versions 1 and 2 with rows) keeps its index in
    // the file, chunked, and the writer goes on adding to it: no day is ever half in one layout
    // and half in the other. Version 3 files already have theirs (or were written without one).
    // New files get none here: the writer gives them an index file (index-file.ts).
    if (search && !empty && version < 2) {
      db.exec(searchSchema(1));
      const last = db.prepare('SELECT max(rowid) FROM events').pluck().get() as number | null;
      if (last !== null) new ChunkedIndex(db, chunkRows, [1]).add(1, last);
    }
    db.pragma(`user_version = ${DAY_SCHEMA_VERSION}`);
  })();
  return empty ? 'created' : 'migrated';
}

function backfillSummaries(db: Database.Database): void {
  db.exec(`
    INSERT INTO session_summary (session, first_ms, first_seq, last_ms, last_seq, count)
      SELECT s.session, f.ms, f.seq, l.ms, l.seq, s.n
      FROM (SELECT session, min(rowid) AS lo, max(rowid) AS hi, count(*) AS n FROM events GROUP BY session) s
      JOIN events f ON f.rowid = s.lo JOIN events l ON l.rowid = s.hi;
    INSERT INTO session_levels (session, level, count)
      SELECT session, level, count(*) FROM events WHERE level IS NOT NULL GROUP BY session, level;
    INSERT INTO session_latest (session, key, row) SELECT session, key, max(rowid) FROM events GROUP BY session, key;
  `);
  for (const f of SESSION_FIELDS) {
    db.exec(`INSERT OR IGNORE INTO session_fields (field, value, session) SELECT DISTINCT '${f}', ${f}, session FROM events WHERE ${f} IS NOT NULL`);
  }
}

/** A session's share of one batch. */
interface BatchSession {
  firstMs: number;
  firstSeq: number;
  lastMs: number;
  lastSeq: number;
  count: number;
  levels: Map<string, number> | null;
  latest: Map<string, number>;
  /** The values seen of each of SESSION_FIELDS, by its position there. */
  fields: Set<string>[];
  /** The value of each field in the session's previous event: a repeat is not looked up again. */
  lastFields: (string | null | undefined)[];
  /** Its rows' runs of consecutive rowids (session-runs.ts). */
  runs: number[];
}

export interface DayIndex {
  /**
   * Records the stored events of a day's run of a batch: summaries and full-text index. Call
   * inside the batch's transaction, after the events are inserted: event i of `from..to-1`
   * (skipping `skip`) got rowid `firstRowid + k` for its position k among the stored.
   */
  apply(r: { c: EventColumns; ms: Float64Array; seq: Float64Array; from: number; to: number }, skip: number[] | undefined, firstRowid: number): void;
  /**
   * The transaction of the last {@link apply} committed. Until this is called its session_fields
   * rows are not taken as written: a transaction that failed (or is retried) leaves none.
   */
  committed(): void;
}

/**
 * session_fields rows (field, value, session) a writer's connection knows are in its day file, at
 * most this many: past it the set starts over (the rows are then looked up again, as at start).
 * A session usually repeats its user, terminal, component, level and step from batch to batch, and
 * each was an `INSERT OR IGNORE` per batch that found its row already there. ~60 bytes each.
 */
export const MAX_KNOWN_FIELDS = 100_000;

export function prepareDayIndex(db: Database.Database, chunkRows = INDEX_CHUNK_ROWS, rollups = true): DayIndex {
  const writeRollups = prepareRollupWriter(db);
  const upsertSummary = db.prepare(
    `INSERT INTO session_summary (session, first_ms, first_seq, last_ms, last_seq, count) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (session) DO UPDATE SET last_ms = excluded.last_ms, last_seq = excluded.last_seq, count = count + excluded.count`,
  );
  const upsertLevel = db.prepare(
    'INSERT INTO session_levels (session, level, count) VALUES (?, ?, ?) ON CONFLICT (session, level) DO UPDATE SET count = count + excluded.count',
  );
  const upsertLatest = db.prepare(
    'INSERT INTO session_latest (session, key, row) VALUES (?, ?, ?) ON CONFLICT (session, key) DO UPDATE SET row = excluded.row',
  );
  const addField = db.prepare('INSERT OR IGNORE INTO session_fields (field, value, session) VALUES (?, ?, ?)');
  // Rows known to be committed, and those written by the transaction in progress.
  let knownFields = new Set<string>();
  const pendingFields: string[] = [];
  const writeRuns = prepareRunsWriter(db);
  // One statement per chunk a batch touches: FTS5 tokenizes inside SQLite, no per-row call from
  // JavaScript. Null when the day has no index.
  const starts = chunkStartsOf(db.prepare(CHUNK_NAMES_SQL).pluck().all() as string[]);
  const index = starts.length > 0 ? new ChunkedIndex(db, chunkRows, starts) : null;
  return {
    apply(r, skip, firstRowid) {
      const { c } = r;
      pendingFields.length = 0; // an earlier transaction that did not commit
      const sessions = new Map<string, BatchSession>();
      const folder = rollups ? new RollupFolder() : null;
      const fieldColumns = SESSION_FIELDS.map((f) => c[f]);
      let next = 0;
      while (skip !== undefined && next < skip.length && (skip[next] as number) < r.from) next++;
      let k = 0;
      for (let i = r.from; i < r.to; i++) {
        if (skip !== undefined && skip[next] === i) {
          next++;
          continue;
        }
        const ms = r.ms[i] as number;
        const seq = r.seq[i] as number;
        const row = firstRowid + k;
        k++;
        const session = c.session[i] as string;
        folder?.add(ms, c.component[i] as string | null, c.level[i] as string | null, c.key[i] as string, c.value[i] as string, c.vjson[i] as number);
        let s = sessions.get(session);
        if (s === undefined) {
          s = {
            firstMs: ms,
            firstSeq: seq,
            lastMs: ms,
            lastSeq: seq,
            count: 0,
            levels: null,
            latest: new Map(),
            fields: SESSION_FIELDS.map(() => new Set()),
            lastFields: [],
            runs: [],
          };
          sessions.set(session, s);
        }
        s.lastMs = ms;
        s.lastSeq = seq;
        s.count++;
        addRow(s.runs, row);
        s.latest.set(c.key[i] as string, row);
        const level = c.level[i];
        if (level != null) {
          s.levels ??= new Map();
          s.levels.set(level, (s.levels.get(level) ?? 0) + 1);
        }
        // Most events of a session repeat its user, terminal, component and step: those skip the set.
        for (let f = 0; f < SESSION_FIELDS.length; f++) {
          const v = (fieldColumns[f] as Array<string | null>)[i];
          if (v == null || v === s.lastFields[f]) continue;
          s.lastFields[f] = v;
          (s.fields[f] as Set<string>).add(v);
        }
      }
      for (const [session, s] of sessions) {
        upsertSummary.run(session, s.firstMs, s.firstSeq, s.lastMs, s.lastSeq, s.count);
        writeRuns(session, s.runs, s.count);
        if (s.levels) for (const [level, n] of s.levels) upsertLevel.run(session, level, n);
        for (const [key, row] of s.latest) upsertLatest.run(session, key, row);
        for (let f = 0; f < SESSION_FIELDS.length; f++) {
          const field = SESSION_FIELDS[f] as SessionField;
          for (const v of s.fields[f] as Set<string>) {
            const known = `${field}:${session.length}:${session}${v}`; // the length: no two rows share a key
            if (knownFields.has(known)) continue;
            addField.run(field, v, session);
            // Kept across batches: a copy, not the slices of this batch's text (they would keep
            // its chunks alive, 32 KiB or more per entry where ~60 bytes were meant).
            pendingFields.push(detached(known));
          }
        }
      }
      if (folder && !folder.empty) writeRollups(folder);
      if (index && k > 0) index.add(firstRowid, firstRowid + k - 1);
    },
    committed() {
      if (knownFields.size + pendingFields.length > MAX_KNOWN_FIELDS) knownFields = new Set();
      for (const known of pendingFields) knownFields.add(known);
      pendingFields.length = 0;
    },
  };
}
