/**
 * The PostgreSQL store (`--store postgres://HOST:PORT/DBNAME`): a partition per UTC day, batches in
 * by COPY, idempotency across writer processes, the same search syntax and results as the
 * embedded store. Any number of instances may share one database: writers append concurrently,
 * readers read, and `readOnly` (for `--store-read postgres://replica`) never writes or runs DDL.
 *
 * The URL alone picks the database. The schema is created at open, idempotently (schema.ts).
 * Every call is async and runs on postgres.js's connections: nothing blocks the caller's thread.
 */
import type { EventId } from '@logsrv/protocol';
import type { Sql } from 'postgres';
import postgres from 'postgres';
import type { IdentifiedBatch } from '../../batch/index.js';
import type { KeyCount, KeyMinute, LevelMinute, ReportWindow } from '../rollups.js';
import type { RenderedPage, TextFormat } from '../row-text.js';
import { renderPage, sessionTextOptions } from '../row-text.js';
import type {
  AppendResult,
  ArchivedDayInfo,
  EventPage,
  EventsQuery,
  Registration,
  RegistrationResult,
  RegistryMappings,
  SessionEnd,
  SessionPage,
  SessionQuery,
  SessionSummary,
  SessionsQuery,
  Store,
} from '../store.js';
import type { AppendMode } from './append.js';
import { appendBatch, UNIQUE_VIOLATION } from './append.js';
import type { PgRestoredDay } from './archive.js';
import { archiveDays, restoreDay } from './archive.js';
import { Partitions } from './partitions.js';
import { lastId, readEvents, readSession, sessionEnd } from './read-events.js';
import { listSessions, sessionSummary } from './read-sessions.js';
import { register, registryMappings } from './registry.js';
import { migrateRollups, ROLLUP_PARTS, reportKeyMinutes, reportKeys, reportLevels } from './rollups.js';
import { checkSchema, migrate } from './schema.js';

export interface PostgresStoreOptions {
  /** Reads only: no DDL, no writes (a replica for `--store-read`). Default false. */
  readOnly?: boolean;
  /** Connections in the pool (default 4). */
  maxConnections?: number;
  /** Whether new day partitions get the GIN index on `words` (default true); without it `q` scans. */
  searchIndex?: boolean;
  /** Where `archive` writes day archives; required to archive. */
  archiveDir?: string;
  /** Clock for creating partitions ahead (default Date.now). */
  clock?: () => number;
  /** `application_name` the connections report (default `logsrv`). */
  applicationName?: string;
  /** Whether report rollups are kept (default true; false only to measure what they cost). */
  rollups?: boolean;
}

/** SQLSTATE when no partition holds a row's `ms`. */
const NO_PARTITION = '23514';

export class PostgresReadOnlyError extends Error {
  override name = 'PostgresReadOnlyError';
}

/** postgres.js with bigint read as a JS number: ids, counts and seqs all fit in 2^53. */
export function connect(url: string, max: number, applicationName: string): Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    connection: { application_name: applicationName },
    types: {
      int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
    },
  }) as unknown as Sql;
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

export class PostgresStore implements Store {
  private constructor(
    private readonly sql: Sql,
    private readonly partitions: Partitions,
    private readonly opts: PostgresStoreOptions,
  ) {}

  /** Connects, and (unless read-only) creates the schema and the partitions of today and the days ahead. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql = connect(url, opts.maxConnections ?? 4, opts.applicationName ?? 'logsrv');
    try {
      const partitions = new Partitions(sql, opts.searchIndex ?? true, opts.clock ?? Date.now);
      if (opts.readOnly) await checkSchema(sql);
      else {
        await migrate(sql);
        await migrateRollups(sql);
        await partitions.createAhead();
      }
      return new PostgresStore(sql, partitions, opts);
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw new Error(`cannot open the PostgreSQL store at ${redact(url)}: ${(err as Error).message}`, { cause: err });
    }
  }

  private writable(what: string): void {
    if (this.opts.readOnly) throw new PostgresReadOnlyError(`cannot ${what}: this PostgreSQL store is read-only (--store-read)`);
  }

  /** This instance's part of the report rollups' rows, so writers do not wait on each other's row locks (rollups.ts). */
  private readonly rollupPart = Math.floor(Math.random() * ROLLUP_PARTS);

  /** Appends of this instance commit one after another, in call order (see append.ts on marks). */
  private appending: Promise<unknown> = Promise.resolve();

  append(batch: IdentifiedBatch): Promise<AppendResult> {
    const run = this.appending.then(() => this.appendNow(batch));
    this.appending = run.catch(() => {});
    return run;
  }

  private async appendNow(batch: IdentifiedBatch): Promise<AppendResult> {
    this.writable('append events');
    await this.partitions.ensureFor(batch.ms);
    let mode: AppendMode = 'copy';
    for (let attempt = 0; ; attempt++) {
      try {
        return await appendBatch(this.sql, batch, mode, this.partitions.writesWords, (this.opts.rollups ?? true) ? this.rollupPart : null);
      } catch (err) {
        const code = (err as { code?: string }).code;
        // An id already stored: the batch (or part of it) was delivered again. Rolled back; merged instead.
        if (code === UNIQUE_VIOLATION && mode === 'copy') {
          mode = 'merge';
          continue;
        }
        // A day partition vanished since it was created here (another instance archived it): made again, once.
        if (code === NO_PARTITION && attempt < 2) {
          this.partitions.forget();
          await this.partitions.ensureFor(batch.ms);
          continue;
        }
        throw err;
      }
    }
  }

  readSession(q: SessionQuery): Promise<EventPage> {
    return readSession(this.sql, q);
  }

  readEvents(q: EventsQuery): Promise<EventPage> {
    return readEvents(this.sql, q);
  }

  async renderSession(q: SessionQuery, format: TextFormat): Promise<RenderedPage> {
    const page = await readSession(this.sql, q);
    return renderPage(page.events, page.next, format, page.prev, sessionTextOptions(q));
  }

  async renderEvents(q: EventsQuery, format: TextFormat): Promise<RenderedPage> {
    const page = await readEvents(this.sql, q);
    return renderPage(page.events, page.next, format);
  }

  sessionEnd(session: string, after: EventId | null, until: EventId | null): Promise<SessionEnd> {
    return sessionEnd(this.sql, session, after, until);
  }

  listSessions(q: SessionsQuery): Promise<SessionPage> {
    return listSessions(this.sql, q);
  }

  sessionSummary(session: string): Promise<SessionSummary | null> {
    return sessionSummary(this.sql, session);
  }

  async register(session: string, reg: Registration, nowMs: number): Promise<RegistrationResult> {
    this.writable('register a session');
    return register(this.sql, session, reg, nowMs);
  }

  registryMappings(): Promise<RegistryMappings> {
    return registryMappings(this.sql);
  }

  lastId(): Promise<EventId | null> {
    return lastId(this.sql);
  }

  async archive(before: string, today: string): Promise<ArchivedDayInfo[]> {
    this.writable('archive');
    if (!this.opts.archiveDir) throw new Error('cannot archive: no archive directory was given to the PostgreSQL store');
    return archiveDays(this.sql, this.partitions, this.opts.archiveDir, before, today);
  }

  /** Loads a day archived by {@link archive} back (`logsrv restore`). */
  async restore(file: string): Promise<PgRestoredDay> {
    this.writable('restore');
    return restoreDay(this.sql, this.partitions, file);
  }

  reportLevels(w: ReportWindow): Promise<LevelMinute[]> {
    return reportLevels(this.sql, w);
  }

  reportKeys(w: ReportWindow, limit: number): Promise<KeyCount[]> {
    return reportKeys(this.sql, w, limit);
  }

  reportKeyMinutes(w: ReportWindow, key: string): Promise<KeyMinute[]> {
    return reportKeyMinutes(this.sql, w, key);
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}
