/**
 * Archive and restore of whole days (SPEC §4 `logsrv archive` / `logsrv restore`, §6 per-day
 * partitions): retention never deletes rows, it moves a day's file out of the store.
 *
 * An archive is the day's SQLite file, compacted and consistent (`VACUUM INTO` reads through the
 * WAL), gzip-compressed: `<data>/archive/events-YYYYMMDD.db.gz`. `gunzip` and the `sqlite3` shell
 * open it without logsrv. Restoring puts the file back as the day it holds (read from its events,
 * not its name); the running server's readers notice files that appear, vanish or are replaced.
 *
 * A day's index file (`events-YYYYMMDD.fts.db`, index-file.ts) is not archived: it is derived
 * from the day's events, so it leaves the store with its day, and a restore builds it again from
 * the restored events (days of schema ≤ 3 carry their index inside the day file, and keep it).
 * Its session chunk file (`events-YYYYMMDD.sess.db`, session-chunks.ts) likewise.
 *
 * Safe beside a running server: only days before today are archived, and the writer only writes
 * today's file. Every step writes to a temporary name first, so a crash leaves either the day in
 * the store or a complete archive (possibly both), never half of one.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { dayOf } from '@logsrv/protocol';
import Database from 'better-sqlite3';
import { showDay } from '../day-names.js';
import type { ArchivedDayInfo as ArchivedDay } from '../store.js';
import { compactChunkFile } from './compact-chunks.js';
import type { DayFollower } from './day-follower.js';
import { CHUNK_NAMES_SQL, DAY_SCHEMA_VERSION, ensureDayTables, INDEX_CHUNK_ROWS, indexTable } from './day-index.js';
import { createIndexFile, INDEX_STEP_ROWS, IndexFollower, indexFile } from './index-file.js';
import { dayFile, listDays, removeDb } from './schema.js';
import { CHUNK_STEP_ROWS, chunkFile, createChunkFile, SessionChunker } from './session-chunks.js';

export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

export type { ArchivedDayInfo as ArchivedDay } from '../store.js';

export interface RestoredDay {
  day: string;
  events: number;
  file: string;
}

export function archiveDir(dataDir: string): string {
  return join(dataDir, 'archive');
}

function fileBytes(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

function tempName(dir: string, what: string): string {
  return join(dir, `.${what}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Moves every day before `before` (`YYYYMMDD`, exclusive) into the archive directory. `today` is
 * the writer's day: it and later days are never touched, so `before` may be at most `today`.
 */
export async function archiveDays(dataDir: string, before: string, today: string): Promise<ArchivedDay[]> {
  if (before > today) {
    throw new ArchiveError(`cannot archive ${showDay(today)} or later: the server is writing it (give a date up to ${showDay(today)})`);
  }
  if (!existsSync(dataDir)) throw new ArchiveError(`no data directory ${dataDir}`);
  const days = listDays(dataDir).filter((d) => d < before);
  const out: ArchivedDay[] = [];
  if (days.length === 0) return out;
  const dir = archiveDir(dataDir);
  mkdirSync(dir, { recursive: true });
  for (const day of days) out.push(await archiveDay(dataDir, dir, day));
  return out;
}

async function archiveDay(dataDir: string, dir: string, day: string): Promise<ArchivedDay> {
  const src = dayFile(dataDir, day);
  const bytes = fileBytes(src) + fileBytes(`${src}-wal`);
  const copy = tempName(dir, `events-${day}.db`);
  const packed = tempName(dir, `events-${day}.db.gz`);
  const file = join(dir, `events-${day}.db.gz`);
  let events: number;
  try {
    const db = new Database(src, { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      events = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
      db.prepare('VACUUM INTO ?').run(copy);
    } finally {
      db.close();
    }
    await pipeline(createReadStream(copy), createGzip({ level: 6 }), createWriteStream(packed, { flags: 'wx' }));
    renameSync(packed, file);
  } catch (err) {
    rmSync(copy, { force: true });
    rmSync(packed, { force: true });
    throw new ArchiveError(`cannot archive ${showDay(day)} (${src}): ${(err as Error).message}`);
  }
  rmSync(copy, { force: true });
  // The archive is complete: only now does the day leave the store. The day file first: a
  // reader that sees the index file without its day ignores it.
  for (const f of [src, indexFile(dataDir, day), chunkFile(dataDir, day)]) removeDb(f);
  return { day, events, bytes, archiveBytes: fileBytes(file), file };
}

/** Puts an archive made by {@link archiveDays} back into the store as the day it holds. */
export async function restoreArchive(dataDir: string, archive: string): Promise<RestoredDay> {
  if (!existsSync(archive)) throw new ArchiveError(`no such file: ${archive}`);
  mkdirSync(dataDir, { recursive: true });
  const tmp = tempName(dataDir, `restore-${basename(archive)}`);
  const tmpIndex = `${tmp}.fts`;
  const tmpChunks = `${tmp}.sess`;
  try {
    try {
      await pipeline(createReadStream(archive), createGunzip(), createWriteStream(tmp, { flags: 'wx' }));
    } catch (err) {
      throw new ArchiveError(`${archive} is not a logsrv archive (a gzip-compressed day file): ${(err as Error).message}`);
    }
    const { day, events, indexInFile } = inspectDay(archive, tmp);
    const target = dayFile(dataDir, day);
    if (existsSync(target)) {
      throw new ArchiveError(`${showDay(day)} is already in ${dataDir} (${target}): archive or move that file away first, then restore`);
    }
    if (!indexInFile) {
      // The index file is built beside the unpacked day and put in place before it, so the day
      // never appears in the store without its index.
      createIndexFile(tmpIndex, 'normal');
      buildDerived(new IndexFollower(tmpIndex, tmp, 'normal', INDEX_CHUNK_ROWS), INDEX_STEP_ROWS, tmpIndex, indexFile(dataDir, day));
    }
    // The session chunks likewise, built whole before the day appears, and compacted: the day
    // is complete (compact-chunks.ts).
    createChunkFile(tmpChunks, 'normal');
    buildDerived(new SessionChunker(tmpChunks, tmp, 'normal'), CHUNK_STEP_ROWS, tmpChunks, chunkFile(dataDir, day));
    try {
      compactChunkFile(chunkFile(dataDir, day));
    } catch {
      // Derived data: the chunks as built are read the same, only slower from disk.
    }
    renameSync(tmp, target);
    return { day, events, file: target };
  } finally {
    for (const f of [tmp, tmpIndex, tmpChunks]) removeDb(f);
  }
}

/** Follows the unpacked day to its end into `f`'s derived file (at `tmpPath`), then moves that to `target`. */
function buildDerived(f: DayFollower, stepRows: number, tmpPath: string, target: string): void {
  try {
    while (f.step(stepRows) < f.committed());
    f.flush();
    f.db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    f.close();
  }
  removeDb(target, ['-wal', '-shm']);
  renameSync(tmpPath, target);
}

/** The day an unpacked archive holds, after checking it is a day file this version can read. */
function inspectDay(archive: string, path: string): { day: string; events: number; indexInFile: boolean } {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
  } catch (err) {
    throw new ArchiveError(`${archive} does not hold an SQLite database: ${(err as Error).message}`);
  }
  try {
    let row: { n: number; lo: number | null; hi: number | null };
    try {
      row = db.prepare('SELECT count(*) AS n, min(ms) AS lo, max(ms) AS hi FROM events').get() as typeof row;
    } catch (err) {
      throw new ArchiveError(`${archive} is not a logsrv day file: ${(err as Error).message}`);
    }
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > DAY_SCHEMA_VERSION) {
      throw new ArchiveError(`${archive} was written by a newer logsrv (day schema ${version}, this one reads up to ${DAY_SCHEMA_VERSION})`);
    }
    if (row.lo === null || row.hi === null) throw new ArchiveError(`${archive} holds no events: nothing to restore`);
    const day = dayOf(row.lo);
    if (dayOf(row.hi) !== day) throw new ArchiveError(`${archive} holds events of more than one day (${showDay(day)} to ${showDay(dayOf(row.hi))})`);
    // An archive from an older version is brought up to date here, as the writer does at start
    // for files in the store: readers of a running server expect the current tables.
    if (version < DAY_SCHEMA_VERSION) {
      const indexed = db.prepare("SELECT 1 FROM sqlite_master WHERE name IN ('events_fts', ?)").get(indexTable(1)) !== undefined;
      ensureDayTables(db, indexed);
    }
    const indexInFile = db.prepare(CHUNK_NAMES_SQL).all().length > 0;
    return { day, events: row.n, indexInFile };
  } finally {
    db.close();
  }
}
