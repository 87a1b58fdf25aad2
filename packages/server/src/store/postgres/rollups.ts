/**
 * Report rollups in PostgreSQL (store/rollups.ts): three tables keyed by minute (so by day), kept
 * in the append transaction (append.ts) — a batch folded in memory, then one upsert statement per
 * table, rows in primary-key order so concurrent writers lock them in one order; sketches merge
 * in SQL (logsrv_sketch_merge adds bucket counts).
 *
 * Each store instance writes its own `part` of a minute's row (a number picked at open): with one
 * row per (minute, component, level) every writer of a deployment updated the same few rows, and
 * 4 writers spent their transactions waiting for each other's row locks (sampled: the first wait
 * of the writers' sessions). Reads add the parts up. Archive deletes a day's minutes with the day;
 * restore and the migration from schema 1 rebuild them from the day's rows.
 */
import type { NormalizedEvent } from '@logsrv/protocol';
import { dayStartMs } from '@logsrv/protocol';
import type { Sql, TransactionSql } from 'postgres';
import type { KeyCount, KeyMinute, LevelMinute, ReportWindow, RollupRows } from '../rollups.js';
import { MINUTE_MS, RollupFolder, tableSuffix, windowMinutes } from '../rollups.js';
import type { EventRowLike } from '../rows.js';
import { decodeRow, pgText } from './copy-rows.js';
import { listPartitions } from './partitions.js';
import { DAY_MS, DDL_LOCK, PG_SCHEMA_VERSION, partitionName, SELECT_COLUMNS } from './schema.js';

function rollupTables(sfx: string): string {
  return `
CREATE TABLE IF NOT EXISTS rollup_levels${sfx} (
  minute    bigint NOT NULL,
  component text   COLLATE "C" NOT NULL,
  level     text   COLLATE "C" NOT NULL,
  part      smallint NOT NULL,
  events    bigint NOT NULL,
  PRIMARY KEY (minute, component, level, part)
);
CREATE TABLE IF NOT EXISTS rollup_keys${sfx} (
  minute    bigint NOT NULL,
  component text   COLLATE "C" NOT NULL,
  key       text   COLLATE "C" NOT NULL,
  part      smallint NOT NULL,
  events    bigint NOT NULL,
  PRIMARY KEY (minute, component, key, part)
);
CREATE TABLE IF NOT EXISTS rollup_values${sfx} (
  key       text   COLLATE "C" NOT NULL,
  minute    bigint NOT NULL,
  component text   COLLATE "C" NOT NULL,
  part      smallint NOT NULL,
  n         bigint NOT NULL,
  sum       double precision NOT NULL,
  min       double precision NOT NULL,
  max       double precision NOT NULL,
  sketch    jsonb  NOT NULL,
  PRIMARY KEY (key, minute, component, part)
);
CREATE INDEX IF NOT EXISTS rollup_values${sfx}_minute ON rollup_values${sfx} (minute);
`;
}

/** Per minute, and the same per hour (`_h`; `minute` is the hour's first), and the sketch merge. */
export const ROLLUP_SCHEMA = `${rollupTables('')}${rollupTables('_h')}
CREATE OR REPLACE FUNCTION logsrv_sketch_merge(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $f$
  SELECT coalesce(jsonb_object_agg(k, c), '{}'::jsonb)
  FROM (SELECT k, sum(v::bigint) AS c FROM (SELECT key AS k, value AS v FROM jsonb_each_text(a)
        UNION ALL SELECT key, value FROM jsonb_each_text(b)) x GROUP BY k) y
$f$;
`;

export function foldEvents(events: NormalizedEvent[], ms: Float64Array, stored: number[]): RollupFolder {
  const f = new RollupFolder();
  for (const i of stored) {
    const e = events[i] as NormalizedEvent;
    f.add(ms[i] as number, e.component, e.level, e.key, e.value, e.vjson);
  }
  return f;
}

/** Parts a minute's row is spread over (see above). */
export const ROLLUP_PARTS = 16;

/** Upserts a batch's rollups into `part`: minute and hourly rows, one statement per table. */
export async function writeRollups(tx: TransactionSql, folder: RollupFolder, part: number): Promise<void> {
  await Promise.all([writeTier(tx, folder.rows(1), '', part), writeTier(tx, folder.rows(60), '_h', part)]);
}

async function writeTier(tx: TransactionSql, rows: RollupRows, sfx: string, part: number): Promise<void> {
  const col = <T extends unknown[], K extends number>(rs: T[], k: K): T[K][] => rs.map((r) => r[k]);
  const t = (xs: string[]) => xs.map(pgText);
  const { levels, keys, values } = rows;
  const work: Promise<unknown>[] = [];
  if (levels.length > 0) {
    work.push(
      tx`INSERT INTO ${tx(`rollup_levels${sfx}`)} AS t (minute, component, level, part, events)
         SELECT m, c, l, ${part}, e FROM unnest(${col(levels, 0)}::bigint[], ${t(col(levels, 1))}::text[], ${t(col(levels, 2))}::text[], ${col(levels, 3)}::bigint[]) AS v (m, c, l, e)
         ORDER BY 1, 2, 3
         ON CONFLICT (minute, component, level, part) DO UPDATE SET events = t.events + excluded.events`.execute(),
    );
  }
  if (keys.length > 0) {
    work.push(
      tx`INSERT INTO ${tx(`rollup_keys${sfx}`)} AS t (minute, component, key, part, events)
         SELECT m, c, k, ${part}, e FROM unnest(${col(keys, 0)}::bigint[], ${t(col(keys, 1))}::text[], ${t(col(keys, 2))}::text[], ${col(keys, 3)}::bigint[]) AS v (m, c, k, e)
         ORDER BY 1, 2, 3
         ON CONFLICT (minute, component, key, part) DO UPDATE SET events = t.events + excluded.events`.execute(),
    );
  }
  if (values.length > 0) {
    work.push(
      tx`INSERT INTO ${tx(`rollup_values${sfx}`)} AS t (key, minute, component, part, n, sum, min, max, sketch)
         SELECT k, m, c, ${part}, n, s, lo, hi, sk::jsonb FROM unnest(${t(col(values, 0))}::text[], ${col(values, 1)}::bigint[], ${t(col(values, 2))}::text[],
           ${col(values, 3)}::bigint[], ${col(values, 4)}::float8[], ${col(values, 5)}::float8[], ${col(values, 6)}::float8[], ${values.map((v) => JSON.stringify(v[7]))}::text[])
           AS v (k, m, c, n, s, lo, hi, sk)
         ORDER BY 1, 2, 3
         ON CONFLICT (key, minute, component, part) DO UPDATE SET n = t.n + excluded.n, sum = t.sum + excluded.sum,
           min = least(t.min, excluded.min), max = greatest(t.max, excluded.max), sketch = logsrv_sketch_merge(t.sketch, excluded.sketch)`.execute(),
    );
  }
  await Promise.all(work);
}

/** The minutes of a day (`YYYYMMDD`), inclusive. */
function dayMinutes(day: string): [number, number] {
  const start = dayStartMs(day) / MINUTE_MS;
  return [start, start + DAY_MS / MINUTE_MS - 1];
}

export async function dropDayRollups(tx: TransactionSql, day: string): Promise<void> {
  const [lo, hi] = dayMinutes(day);
  for (const t of ['rollup_levels', 'rollup_keys', 'rollup_values', 'rollup_levels_h', 'rollup_keys_h', 'rollup_values_h']) {
    await tx`DELETE FROM ${tx(t)} WHERE minute BETWEEN ${lo} AND ${hi}`;
  }
}

/** Rebuilds a day's rollups from its rows (migration from schema 1): its minutes first emptied. */
export async function rebuildDayRollups(tx: TransactionSql, table: string, day: string): Promise<void> {
  await dropDayRollups(tx, day);
  const f = new RollupFolder();
  const rows = await tx.unsafe<EventRowLike[]>(`SELECT ${SELECT_COLUMNS} FROM ${table}`).cursor(5000);
  for await (const chunk of rows) {
    for (const raw of chunk) {
      const r = decodeRow(raw);
      f.add(r.ms, r.component, r.level, r.key, r.value, r.vjson);
    }
  }
  if (!f.empty) await writeRollups(tx, f, 0);
}

function where(w: ReportWindow, first: number): { text: string; params: unknown[] } {
  const [lo, hi] = windowMinutes(w);
  let text = `minute BETWEEN $${first} AND $${first + 1}`;
  const params: unknown[] = [lo, hi];
  if (w.component !== undefined) {
    text += ` AND component = $${first + 2}`;
    params.push(w.component);
  }
  return { text, params };
}

export async function reportLevels(sql: Sql, w: ReportWindow): Promise<LevelMinute[]> {
  const c = where(w, 1);
  const rows = await sql.unsafe<{ minute: number; component: string; level: string; events: number }[]>(
    `SELECT minute, component, level, sum(events)::bigint AS events FROM rollup_levels${tableSuffix(w)} WHERE ${c.text} GROUP BY 1, 2, 3 ORDER BY minute, component, level`,
    c.params as never[],
  );
  return rows.map((r) => ({ minute: r.minute, component: r.component === '' ? null : r.component, level: r.level === '' ? null : r.level, events: r.events }));
}

export async function reportKeys(sql: Sql, w: ReportWindow, limit: number): Promise<KeyCount[]> {
  const c = where(w, 1);
  const rows = await sql.unsafe<KeyCount[]>(
    `SELECT key, sum(events)::bigint AS events FROM rollup_keys${tableSuffix(w)} WHERE ${c.text} GROUP BY key ORDER BY 2 DESC, key LIMIT ${Math.floor(limit)}`,
    c.params as never[],
  );
  return rows.map((r) => ({ key: r.key, events: r.events }));
}

export async function reportKeyMinutes(sql: Sql, w: ReportWindow, key: string): Promise<KeyMinute[]> {
  const c = where(w, 2);
  const params = [key, ...c.params] as never[];
  const [totals, buckets] = await Promise.all([
    sql.unsafe<Omit<KeyMinute, 'buckets'>[]>(
      `SELECT minute, sum(n)::bigint AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max FROM rollup_values${tableSuffix(w)} WHERE key = $1 AND ${c.text} GROUP BY minute ORDER BY minute`,
      params,
    ),
    sql.unsafe<{ minute: number; b: string; c: number }[]>(
      `SELECT r.minute, j.key AS b, sum(j.value::bigint)::bigint AS c FROM rollup_values${tableSuffix(w)} r, jsonb_each_text(r.sketch) j
       WHERE r.key = $1 AND ${c.text.replace(/\b(minute|component) /g, 'r.$1 ')} GROUP BY 1, 2`,
      params,
    ),
  ]);
  const at = new Map<number, KeyMinute>();
  const out: KeyMinute[] = totals.map((r) => {
    const m: KeyMinute = { minute: r.minute, n: r.n, sum: r.sum, min: r.min, max: r.max, buckets: {} };
    at.set(r.minute, m);
    return m;
  });
  for (const r of buckets) {
    const m = at.get(r.minute);
    if (m) m.buckets[r.b] = r.c;
  }
  return out;
}

/**
 * Creates the rollup tables; in a database written before them (schema version 1), builds them
 * from every stored day's rows, once, and records version 2. Safe from several processes at once.
 */
export async function migrateRollups(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${DDL_LOCK})`;
    const [row] = await tx<{ version: number }[]>`SELECT max(version) AS version FROM logsrv_schema`;
    const version = row?.version ?? PG_SCHEMA_VERSION;
    // Schema 2 kept one row per minute and key (no parts): made again and filled from the rows.
    if (version < PG_SCHEMA_VERSION) {
      for (const t of ['rollup_levels', 'rollup_keys', 'rollup_values']) await tx.unsafe(`DROP TABLE IF EXISTS ${t}, ${t}_h`);
    }
    await tx.unsafe(ROLLUP_SCHEMA).simple();
    if (version >= PG_SCHEMA_VERSION) return;
    for (const p of await listPartitions(tx as unknown as Sql)) {
      if (p.attached) await rebuildDayRollups(tx, partitionName(p.day), p.day);
    }
    await tx`UPDATE logsrv_schema SET version = ${PG_SCHEMA_VERSION}`;
  });
}
