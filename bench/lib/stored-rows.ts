/**
 * Reads back what a stopped server stored: the row count over all day files of a data directory,
 * and a sample's row size and distinctness, to check the benchmark's claims about its own run.
 * Open only after the server has exited — the server's writer owns these files while it runs.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface StoredSummary {
  files: string[];
  rows: number;
  /** Mean bytes of the text columns over a sample of rows. */
  sampleRowBytes: number;
  sampleRows: number;
  sampleDistinctValues: number;
}

const SAMPLE = 20_000;

/** Size and distinctness of the first 20,000 rows of an events table. */
export function sampleStats(db: Database.Database): { rows: number; distinctValues: number; rowBytes: number } {
  const s = db
    .prepare(
      `SELECT count(*) AS n, count(DISTINCT value) AS distinctValues,
              avg(length(session) + length(key) + length(value) + coalesce(length(component), 0) + coalesce(length(level), 0)
                  + coalesce(length(step), 0) + coalesce(length(attrs), 0)) AS bytes
       FROM (SELECT * FROM events ORDER BY rowid LIMIT ${SAMPLE})`,
    )
    .get() as { n: number; distinctValues: number; bytes: number | null };
  return { rows: s.n, distinctValues: s.distinctValues, rowBytes: s.bytes ?? 0 };
}

export function summarizeStore(dataDir: string): StoredSummary {
  const files = readdirSync(dataDir)
    .filter((f) => /^events-\d{8}\.db$/.test(f))
    .sort();
  let rows = 0;
  let sampleRowBytes = 0;
  let sampleRows = 0;
  let sampleDistinctValues = 0;
  for (const f of files) {
    const db = new Database(join(dataDir, f), { fileMustExist: true });
    try {
      rows += (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
      if (sampleRows === 0) {
        const s = sampleStats(db);
        sampleRows = s.rows;
        sampleDistinctValues = s.distinctValues;
        sampleRowBytes = s.rowBytes;
      }
    } finally {
      db.close();
    }
  }
  return { files, rows, sampleRowBytes, sampleRows, sampleDistinctValues };
}
