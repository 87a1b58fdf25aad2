/**
 * The storage baseline: bare better-sqlite3 inserting the rows the server would store, into the
 * server's own schema with its own pragmas, with the writer's own INSERT (schema.ts
 * prepareEventInsert: INSERT_ROWS rows per statement), one transaction per `txnRows` rows — all
 * imported from the built server, so the baseline follows any change to them. Only the
 * transactions are timed; making and parsing the rows, and laying them out in columns, is not.
 *
 * `statement: 'row'` inserts one row per statement instead, as the writer did until 2026-12-06
 * and as every baseline figure before that date was measured: kept for comparison with them.
 *
 * This is the ceiling for the embedded pipeline: the server does this same work plus HTTP, NDJSON
 * parsing, validation and the hand-off to its writer thread.
 */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
// Deliberately the server's schema and pragmas, not a copy: "same schema" must stay true.
import type { EventColumns } from '../../packages/server/dist/batch/columns.js';
import { applyPragmas, prepareEventInsert, SCHEMA } from '../../packages/server/dist/store/sqlite/schema.js';
import { type BodyTemplate, createRng, makeBody, stamp } from './ndjson-workload.ts';
import { sampleStats } from './stored-rows.ts';

/** The 13 event columns after (ms, seq), in INSERT order. */
export type Row = [
  string,
  string,
  string,
  number,
  number | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  number | null,
];

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function str(v: Json | undefined): string | null {
  return typeof v === 'string' ? v : null;
}

/**
 * A parsed workload line as the server stores it — the column mapping of the protocol's
 * `normalizeEvent` for the fields the workload uses (string value as is, anything else as JSON).
 */
function toRow(line: string): Row {
  const e = JSON.parse(line) as Record<string, Json>;
  const v = e.value as Json;
  const ts = e.ts;
  return [
    e.session as string,
    e.key as string,
    typeof v === 'string' ? v : JSON.stringify(v),
    typeof v === 'string' ? 0 : 1,
    typeof ts === 'number' ? ts : typeof ts === 'string' ? Date.parse(ts) : null,
    str(e.component),
    str(e.user),
    str(e.terminal),
    str(e.step),
    str(e.level),
    e.attrs === undefined ? null : JSON.stringify(e.attrs),
    str(e.producer),
    typeof e.seq === 'number' ? e.seq : null,
  ];
}

/** Endless source of distinct workload rows, made from a small pool of stamped templates. */
export class RowSource {
  private readonly pool: BodyTemplate[] = [];
  private next = 0;
  private lineNo: number;

  constructor(tag: string, seed: number) {
    const rng = createRng(seed);
    for (let i = 0; i < 16; i++) this.pool.push(makeBody(1000, rng, tag));
    this.lineNo = 0;
  }

  take(n: number): Row[] {
    const rows: Row[] = [];
    while (rows.length < n) {
      const t = this.pool[this.next++ % this.pool.length] as BodyTemplate;
      stamp(t, this.lineNo);
      this.lineNo += t.lines;
      const lines = t.buf.toString('latin1').split('\n');
      for (const line of lines) if (line.length > 0 && rows.length < n) rows.push(toRow(line));
    }
    return rows;
  }
}

/**
 * One baseline database: a file in `dir` that grows over the measurements made on it, as the
 * server's day file grows over a benchmark's repetitions. Synchronous: run it while the server is
 * idle, never during a server measurement.
 */
export class SqliteBaseline {
  private readonly file: string;
  private readonly db: Database.Database;
  private readonly insertMany: (c: EventColumns, ms: Float64Array, seq: Float64Array) => void;
  private readonly source: RowSource;
  private lastMs = 0;
  private lastSeq = -1;

  /** `tag` is the session tag, as long as the server run's so rows have the same size. */
  constructor(dir: string, name: string, tag: string, seed: number, statement: 'writer' | 'row' = 'writer') {
    this.file = `${dir}/baseline-${name}.db`;
    for (const suffix of ['', '-wal', '-shm']) rmSync(this.file + suffix, { force: true });
    this.db = new Database(this.file);
    applyPragmas(this.db, 'normal');
    this.db.exec(SCHEMA);
    const insert = prepareEventInsert(this.db, statement === 'writer' ? undefined : 1);
    let all: number[] = [];
    this.insertMany = this.db.transaction((c: EventColumns, ms: Float64Array, seq: Float64Array) => {
      if (all.length !== c.n) all = Array.from({ length: c.n }, (_r, i) => i);
      insert(c, ms, seq, all);
    });
    this.source = new RowSource(tag, seed);
  }

  /** Inserts about `rows` rows in transactions of `txnRows`; returns rows/s of the timed commits. */
  measure(rows: number, txnRows: number): number {
    const txns = Math.max(1, Math.ceil(rows / txnRows));
    let ns = 0;
    for (let t = 0; t < txns; t++) ns += this.commit(this.source.take(txnRows));
    return (txns * txnRows) / (ns / 1e9);
  }

  /** Mean bytes of the text columns of a sample, to compare with the server's rows. */
  sampleRowBytes(): number {
    return sampleStats(this.db).rowBytes;
  }

  close(): void {
    this.db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(this.file + suffix, { force: true });
  }

  /** One timed transaction, with ids assigned as the writer assigns them. */
  private commit(rows: Row[]): number {
    const ms = Math.max(Date.now(), this.lastMs);
    const seq0 = ms === this.lastMs ? this.lastSeq + 1 : 0;
    const c = toColumns(rows);
    const msOf = new Float64Array(rows.length).fill(ms);
    const seqOf = Float64Array.from(rows, (_r, i) => seq0 + i);
    const t0 = process.hrtime.bigint();
    this.insertMany(c, msOf, seqOf);
    const ns = Number(process.hrtime.bigint() - t0);
    this.lastMs = ms;
    this.lastSeq = seq0 + rows.length - 1;
    return ns;
  }
}

/** Rows in the writer's columns (batch/columns.ts), as the writer thread has them after unpacking. */
function toColumns(rows: Row[]): EventColumns {
  const col = <T>(k: number) => rows.map((r) => r[k] as T);
  return {
    n: rows.length,
    session: col(0),
    key: col(1),
    value: col(2),
    vjson: Uint8Array.from(rows, (r) => r[3]),
    ts: col(4),
    component: col(5),
    user: col(6),
    terminal: col(7),
    step: col(8),
    level: col(9),
    attrs: col(10),
    producer: col(11),
    pseq: col(12),
  } as EventColumns;
}
