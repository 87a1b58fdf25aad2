/**
 * Day partitions of `events`: `events_YYYYMMDD` holds ms in [00:00, 24:00) UTC of that day.
 * There is no DEFAULT partition, so a day must exist before a row of it can be stored: they are
 * created ahead of time (today and {@link DAYS_AHEAD} days after, at open and whenever an append
 * reaches a new day) and on demand for any day an append needs (ids near midnight, a batch
 * delivered again after a day turned). Creating one takes a lock on `events` for a moment, which
 * is why it is done ahead, outside the append transactions.
 */
import { dayOf, dayStartMs } from '@logsrv/protocol';
import type { Sql } from 'postgres';
import { DAY_MS, DDL_LOCK, partitionName } from './schema.js';

export const DAYS_AHEAD = 3;

/**
 * The GIN index's pending list (kB): new rows' words go to an unsorted list that is merged into
 * the index in bulk when it is full or by (auto)vacuum — far cheaper than inserting each word.
 * Measured here (50k log lines, ~20 tokens each, ~10k distinct): COPY with the default 4 MB list
 * 3.98 s, with 16 MB 1.78 s, with 64 MB 1.33 s, without the index 0.36 s; a rare word searched
 * while the list is full: 16 MB ~12 ms, 64 MB ~57 ms, after the merge ~1 ms. 16 MB keeps searches
 * of the newest rows fast.
 */
export const GIN_PENDING_LIST_KB = 16_384;

export interface PartitionInfo {
  day: string;
  /** Still a partition of `events` (false: detached by an archive run that did not finish). */
  attached: boolean;
  /** A `DETACH … CONCURRENTLY` was interrupted: it must be finished with FINALIZE. */
  detachPending: boolean;
}

/** Every `events_YYYYMMDD` table in the search path, attached or not, oldest first. */
export async function listPartitions(sql: Sql): Promise<PartitionInfo[]> {
  const rows = await sql<{ name: string; attached: boolean; pending: boolean | null }[]>`
    SELECT c.relname AS name, i.inhrelid IS NOT NULL AS attached, i.inhdetachpending AS pending
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'events'::regclass
    WHERE c.relkind = 'r' AND c.relname ~ '^events_[0-9]{8}$'
    ORDER BY c.relname`;
  return rows.map((r) => ({ day: r.name.slice(7), attached: r.attached, detachPending: r.pending === true }));
}

export class Partitions {
  private readonly known = new Set<string>();

  constructor(
    private readonly sql: Sql,
    /** Whether new partitions get the GIN index on `words`. */
    private readonly searchIndex: boolean,
    private readonly clock: () => number,
  ) {}

  /** Today's partition and the next {@link DAYS_AHEAD}. */
  async createAhead(): Promise<void> {
    const now = this.clock();
    const days: string[] = [];
    for (let i = 0; i <= DAYS_AHEAD; i++) days.push(dayOf(now + i * DAY_MS));
    await this.ensure(days);
  }

  /** Makes sure every day of these ids has its partition; cheap when they all exist. */
  async ensureFor(ms: Float64Array): Promise<void> {
    let missing: Set<string> | null = null;
    let lastDayNo = Number.NaN;
    for (const m of ms) {
      const dayNo = Math.floor(m / DAY_MS);
      if (dayNo === lastDayNo) continue;
      lastDayNo = dayNo;
      const day = dayOf(m);
      if (this.known.has(day)) continue;
      missing ??= new Set();
      missing.add(day);
    }
    if (missing === null) return;
    await this.ensure([...missing]);
    // A new day reached: keep the days ahead of the clock ready as well.
    await this.createAhead();
  }

  get writesWords(): boolean {
    return this.searchIndex;
  }

  /** Forgets what is known (a partition was archived, or a store error said one is missing). */
  forget(day?: string): void {
    if (day === undefined) this.known.clear();
    else this.known.delete(day);
  }

  async ensure(days: string[]): Promise<void> {
    const want = days.filter((d) => !this.known.has(d)).sort();
    if (want.length === 0) return;
    await this.sql.begin(async (tx) => {
      // Serialized across processes: CREATE TABLE IF NOT EXISTS races with itself.
      await tx`SELECT pg_advisory_xact_lock(${DDL_LOCK})`;
      for (const day of want) {
        const name = partitionName(day);
        const [row] = await tx<{ t: string | null }[]>`SELECT to_regclass(${name})::text AS t`;
        if (row?.t) continue;
        const from = dayStartMs(day);
        // Not `CREATE TABLE … PARTITION OF`: that takes an ACCESS EXCLUSIVE lock on `events`, which
        // waits for the longest running read and stops every read and append queued behind it.
        // ATTACH takes SHARE UPDATE EXCLUSIVE, which neither waits for nor blocks them; it creates
        // the partitioned indexes on the new (empty) table.
        await tx.unsafe(`CREATE TABLE ${name} (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
        await tx.unsafe(`ALTER TABLE events ATTACH PARTITION ${name} FOR VALUES FROM (${from}) TO (${from + DAY_MS})`);
        if (this.searchIndex) await tx.unsafe(`CREATE INDEX ${name}_words ON ${name} USING gin (words) WITH (gin_pending_list_limit = ${GIN_PENDING_LIST_KB})`);
      }
      // This instance writes no tokens: readers must check these days' rows themselves.
      if (!this.searchIndex) await tx`INSERT INTO unindexed_days (day) SELECT unnest(${want.map(Number)}::integer[]) ON CONFLICT DO NOTHING`;
    });
    for (const d of want) this.known.add(d);
  }
}
