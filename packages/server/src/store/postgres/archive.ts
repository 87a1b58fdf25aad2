/**
 * Retention for PostgreSQL (SPEC §6): a day leaves the store whole, by detaching its partition.
 *
 * `archive`: for each day partition before `before` — `ALTER TABLE events DETACH PARTITION …
 * CONCURRENTLY` (outside any transaction: PostgreSQL refuses it inside one; readers and writers
 * go on meanwhile), then the detached table is written to `<dir>/events-YYYYMMDD.ndjson.gz`
 * (a temporary name first, renamed when complete), then, in one transaction, the day's summaries
 * are removed, the sessions it touched recomputed from their other days, and the table dropped.
 * A run interrupted anywhere leaves either the day in the store, or a detached table (finished by
 * the next run), or a complete archive: never half of one.
 *
 * The archive: gzip-compressed NDJSON, readable without logsrv. Line 1 is a header
 * `{"format":"logsrv-pg-day","version":1,"day":"YYYYMMDD","events":N,"columns":[…]}`, then one
 * JSON array per event in id order, in the header's column order. `restore` loads it back as the
 * day it holds, recomputing the tokens and the day's summaries.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { NormalizedEvent } from '@logsrv/protocol';
import { dayOf } from '@logsrv/protocol';
import type { Sql, TransactionSql } from 'postgres';
import { showDay } from '../day-names.js';
import { RollupFolder } from '../rollups.js';
import type { EventRowLike } from '../rows.js';
import type { ArchivedDayInfo } from '../store.js';
import { drained } from './append.js';
import { copyLine, decodeRow } from './copy-rows.js';
import type { Partitions } from './partitions.js';
import { listPartitions } from './partitions.js';
import { dropDayRollups, writeRollups } from './rollups.js';
import { COPY_COLUMNS, DDL_LOCK, partitionName, SELECT_COLUMNS } from './schema.js';

export const ARCHIVE_FORMAT = 'logsrv-pg-day';
export const ARCHIVE_VERSION = 1;
const COLUMNS = ['ms', 'seq', 'session', 'key', 'value', 'vjson', 'ts', 'component', 'user', 'terminal', 'step', 'level', 'attrs', 'producer', 'pseq'] as const;

export class PgArchiveError extends Error {
  override name = 'PgArchiveError';
}

export function archiveFile(dir: string, day: string): string {
  return join(dir, `events-${day}.ndjson.gz`);
}

/** Moves every day partition before `before` (at most `today`) into archives in `dir`. */
export async function archiveDays(sql: Sql, partitions: Partitions, dir: string, before: string, today: string): Promise<ArchivedDayInfo[]> {
  if (before > today) {
    throw new PgArchiveError(`cannot archive ${showDay(today)} or later: the server is writing it (give a date up to ${showDay(today)})`);
  }
  const days = (await listPartitions(sql)).filter((p) => p.day < before);
  const out: ArchivedDayInfo[] = [];
  if (days.length === 0) return out;
  mkdirSync(dir, { recursive: true });
  for (const p of days) {
    const name = partitionName(p.day);
    partitions.forget(p.day);
    if (p.detachPending) await sql.unsafe(`ALTER TABLE events DETACH PARTITION ${name} FINALIZE`);
    else if (p.attached) await sql.unsafe(`ALTER TABLE events DETACH PARTITION ${name} CONCURRENTLY`);
    const archived = await archiveDetached(sql, dir, p.day);
    if (archived) out.push(archived);
  }
  return out;
}

/** Archives a detached day and drops it; a day without events (created ahead) is only dropped (null). */
async function archiveDetached(sql: Sql, dir: string, day: string): Promise<ArchivedDayInfo | null> {
  const name = partitionName(day);
  const [info] = await sql<{ n: number; bytes: number }[]>`
    SELECT (SELECT count(*) FROM ${sql(name)}) AS n, pg_total_relation_size(${name}::regclass) AS bytes`;
  const events = info?.n ?? 0;
  if (events === 0) {
    await sql.begin(async (tx) => {
      await dropDaySummaries(tx, Number(day));
      await tx.unsafe(`DROP TABLE ${name}`);
    });
    return null;
  }
  const file = archiveFile(dir, day);
  const tmp = join(dir, `.events-${day}.ndjson.gz.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const header = JSON.stringify({ format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, day, events, columns: COLUMNS });
    const cursor = sql.unsafe<EventRowLike[]>(`SELECT ${SELECT_COLUMNS} FROM ${name} ORDER BY ms, seq`).cursor(2000);
    async function* lines(): AsyncGenerator<string> {
      yield `${header}\n`;
      for await (const rows of cursor) {
        let chunk = '';
        for (const raw of rows) {
          const r = decodeRow(raw);
          chunk += `${JSON.stringify(COLUMNS.map((c) => r[c]))}\n`;
        }
        yield chunk;
      }
    }
    await pipeline(Readable.from(lines()), createGzip({ level: 6 }), createWriteStream(tmp, { flags: 'wx' }));
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new PgArchiveError(`cannot archive ${showDay(day)} (table ${name}): ${(err as Error).message}`);
  }
  // The archive is complete: only now does the day leave the store.
  await sql.begin(async (tx) => {
    await dropDaySummaries(tx, Number(day));
    await dropDayRollups(tx, day);
    await tx.unsafe(`DROP TABLE ${name}`);
  });
  return { day, events, bytes: info?.bytes ?? 0, archiveBytes: statSync(file).size, file };
}

/** Removes a day's summary rows and recomputes the listing rows of the sessions it touched. */
async function dropDaySummaries(tx: TransactionSql, day: number): Promise<void> {
  const touched = (await tx<{ session: string }[]>`SELECT session FROM session_days WHERE day = ${day} ORDER BY session`).map((r) => r.session);
  // Locked in sorted order, as appends lock them (summaries.ts).
  await tx`SELECT 1 FROM sessions WHERE session = ANY(${touched}::text[]) ORDER BY session FOR UPDATE`;
  await tx`DELETE FROM session_days WHERE day = ${day}`;
  await tx`DELETE FROM session_levels WHERE day = ${day}`;
  await tx`DELETE FROM session_latest WHERE day = ${day}`;
  await tx`DELETE FROM session_fields WHERE day = ${day}`;
  await tx`DELETE FROM unindexed_days WHERE day = ${day}`;
  await refreshSessions(tx, touched);
}

/** Recomputes the listing rows of `touched` from their days' rows (deleting those left with none). */
async function refreshSessions(tx: TransactionSql, touched: string[]): Promise<void> {
  await tx`DELETE FROM sessions s WHERE s.session = ANY(${touched}::text[]) AND NOT EXISTS (SELECT 1 FROM session_days d WHERE d.session = s.session)`;
  await tx`
    INSERT INTO sessions (session, first_ms, first_seq, last_ms, last_seq, count)
    SELECT session, (min(ARRAY[first_ms, first_seq]))[1], (min(ARRAY[first_ms, first_seq]))[2],
           (max(ARRAY[last_ms, last_seq]))[1], (max(ARRAY[last_ms, last_seq]))[2], sum(count)::bigint
    FROM session_days WHERE session = ANY(${touched}::text[]) GROUP BY session ORDER BY session
    ON CONFLICT (session) DO UPDATE SET first_ms = excluded.first_ms, first_seq = excluded.first_seq,
      last_ms = excluded.last_ms, last_seq = excluded.last_seq, count = excluded.count`;
}

export interface PgRestoredDay {
  day: string;
  events: number;
  /** The partition the day is in again. */
  table: string;
}

/** Loads an archive made by {@link archiveDays} back into the store as the day it holds. */
export async function restoreDay(sql: Sql, partitions: Partitions, archive: string): Promise<PgRestoredDay> {
  if (!existsSync(archive)) throw new PgArchiveError(`no such file: ${archive}`);
  const input = createReadStream(archive).pipe(createGunzip());
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })[Symbol.asyncIterator]();
  let header: { format?: unknown; version?: unknown; day?: unknown; columns?: unknown };
  try {
    const first = await lines.next();
    header = JSON.parse(first.done ? '' : first.value);
  } catch (err) {
    input.destroy();
    throw new PgArchiveError(`${archive} is not a logsrv PostgreSQL archive (gzip NDJSON with a header line): ${(err as Error).message}`);
  }
  if (header.format !== ARCHIVE_FORMAT || typeof header.day !== 'string' || !/^\d{8}$/.test(header.day)) {
    input.destroy();
    throw new PgArchiveError(`${archive} is not a logsrv PostgreSQL archive (its header says ${JSON.stringify(header).slice(0, 200)})`);
  }
  if (typeof header.version !== 'number' || header.version > ARCHIVE_VERSION) {
    input.destroy();
    throw new PgArchiveError(`${archive} was written by a newer logsrv (archive version ${String(header.version)}, this one reads up to ${ARCHIVE_VERSION})`);
  }
  const day = header.day;
  const name = partitionName(day);
  await partitions.ensure([day]);
  let events = 0;
  // The day's report rollups, rebuilt from its rows as they are loaded.
  const rollups = new RollupFolder();
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${DDL_LOCK})`;
    const [has] = await tx.unsafe<{ n: number }[]>(`SELECT count(*) AS n FROM (SELECT 1 FROM ${name} LIMIT 1) x`);
    if ((has?.n ?? 0) > 0) throw new PgArchiveError(`${showDay(day)} is already in the store (table ${name}): archive it first, then restore`);
    const w = await tx.unsafe(`COPY ${name} (${COPY_COLUMNS}) FROM STDIN`).writable();
    const done = new Promise<void>((resolve, reject) => {
      w.once('finish', resolve);
      w.once('error', reject);
    });
    try {
      for (;;) {
        const next = await lines.next();
        if (next.done) break;
        if (next.value === '') continue;
        const a = JSON.parse(next.value) as unknown[];
        const ms = a[0] as number;
        if (dayOf(ms) !== day) throw new PgArchiveError(`${archive} holds an event of ${showDay(dayOf(ms))}, not of ${showDay(day)}`);
        const e: NormalizedEvent = {
          session: a[2] as string,
          key: a[3] as string,
          value: a[4] as string,
          vjson: a[5] as 0 | 1,
          ts: a[6] as number | null,
          component: a[7] as string | null,
          user: a[8] as string | null,
          terminal: a[9] as string | null,
          step: a[10] as string | null,
          level: a[11] as string | null,
          attrs: a[12] as string | null,
          producer: a[13] as string | null,
          pseq: a[14] as number | null,
        };
        rollups.add(ms, e.component, e.level, e.key, e.value, e.vjson);
        if (!w.write(copyLine(e, ms, a[1] as number, partitions.writesWords))) await drained(w);
        events++;
      }
    } catch (err) {
      w.destroy(err as Error);
      throw err;
    }
    w.end();
    await done;
    await backfillDay(tx, name, Number(day));
    await dropDayRollups(tx, day);
    if (!rollups.empty) await writeRollups(tx, rollups, 0);
    if (!partitions.writesWords) await tx`INSERT INTO unindexed_days (day) VALUES (${Number(day)}) ON CONFLICT DO NOTHING`;
  });
  return { day, events, table: name };
}

/** Summaries of a day computed from its rows (only for a restored day: appends maintain them). */
async function backfillDay(tx: TransactionSql, table: string, day: number): Promise<void> {
  await tx.unsafe(`
    INSERT INTO session_days (session, day, first_ms, first_seq, last_ms, last_seq, count)
      SELECT session, ${day}, (min(ARRAY[ms, seq]))[1], (min(ARRAY[ms, seq]))[2], (max(ARRAY[ms, seq]))[1], (max(ARRAY[ms, seq]))[2], count(*)
      FROM ${table} GROUP BY session`);
  await tx.unsafe(`INSERT INTO session_levels (session, day, level, count)
      SELECT session, ${day}, level, count(*) FROM ${table} WHERE level IS NOT NULL GROUP BY session, level`);
  await tx.unsafe(`INSERT INTO session_latest (session, key, day, ms, seq)
      SELECT DISTINCT ON (session, key) session, key, ${day}, ms, seq FROM ${table} ORDER BY session, key, ms DESC, seq DESC`);
  for (const f of ['user', 'terminal', 'component', 'level', 'step']) {
    await tx.unsafe(`INSERT INTO session_fields (field, value, session, day)
      SELECT DISTINCT '${f}', "${f}", session, ${day} FROM ${table} WHERE "${f}" IS NOT NULL`);
  }
  const touched = (await tx<{ session: string }[]>`SELECT session FROM session_days WHERE day = ${day} ORDER BY session`).map((r) => r.session);
  await tx`SELECT 1 FROM sessions WHERE session = ANY(${touched}::text[]) ORDER BY session FOR UPDATE`;
  await refreshSessions(tx, touched);
}
