/**
 * The PostgreSQL baseline: `COPY … FROM STDIN` of the rows the server would store, from Node
 * (postgres.js), into a table with the event columns, a primary key on the id and the
 * (session, ms, seq) index — what a store that did nothing but store could reach. Only the
 * transactions are timed; making the rows is not.
 */
import postgres from 'postgres';
import { type Row, RowSource } from './sqlite-baseline.ts';

/** COPY's text format: backslash, tab, newline and carriage return escaped; \N for NULL. */
function field(v: string | number | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

export class PgCopyBaseline {
  private ms = Date.now();
  private readonly source: RowSource;

  private constructor(
    private readonly sql: postgres.Sql,
    tag: string,
    seed: number,
  ) {
    this.source = new RowSource(tag, seed);
  }

  /** A fresh table in the database at `url`. */
  static async open(url: string, tag: string, seed: number): Promise<PgCopyBaseline> {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    await sql.unsafe(`
      DROP TABLE IF EXISTS copy_baseline;
      CREATE TABLE copy_baseline (
        ms bigint NOT NULL, seq bigint NOT NULL, session text NOT NULL, key text NOT NULL, value text NOT NULL,
        vjson smallint NOT NULL, ts bigint, component text, "user" text, terminal text, step text, level text,
        attrs text, producer text, pseq bigint, PRIMARY KEY (ms, seq));
      CREATE INDEX copy_baseline_session ON copy_baseline (session, ms, seq);`);
    return new PgCopyBaseline(sql, tag, seed);
  }

  /** COPYs about `rows` rows in transactions of `txnRows`; returns rows/s of the timed transactions. */
  async measure(rows: number, txnRows: number): Promise<number> {
    const txns = Math.max(1, Math.ceil(rows / txnRows));
    let ms = 0;
    for (let t = 0; t < txns; t++) {
      const batch = this.source.take(txnRows);
      const at = this.ms++;
      const text = batch.map((r: Row, i) => [at, i, ...r].map(field).join('\t')).join('\n') + '\n';
      const t0 = performance.now();
      await this.sql.begin(async (tx) => {
        const w = await tx`COPY copy_baseline FROM STDIN`.writable();
        await new Promise<void>((res, rej) => {
          w.on('error', rej);
          w.end(text, () => res());
        });
      });
      ms += performance.now() - t0;
    }
    return (txns * txnRows) / (ms / 1000);
  }

  async close(): Promise<void> {
    await this.sql.unsafe('DROP TABLE IF EXISTS copy_baseline').catch(() => {});
    await this.sql.end({ timeout: 1 });
  }
}
