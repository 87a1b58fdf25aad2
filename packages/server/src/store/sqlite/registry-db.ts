/**
 * The session registry (SPEC §5) in `<dataDir>/registry.db`: which user and terminal a session
 * belongs to, and its attrs. Written only by the writer thread (`register`); read by reader
 * threads (read-sessions.ts) and, through {@link RegistryDb.mappings}, by the receiving thread's
 * cache that enriches events at ingest.
 *
 * "The session currently registered for" a user (or terminal) is the one whose registration
 * naming it is the most recent: `version` counts registrations, so the order does not depend on
 * the clock.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Registration, RegistrationResult, RegistryMappings } from '../store.js';
import { applyPragmas } from './schema.js';

export const REGISTRY_FILE = 'registry.db';

export const REGISTRY_SCHEMA = `
CREATE TABLE IF NOT EXISTS registry (
  session    TEXT    PRIMARY KEY,
  user       TEXT,
  terminal   TEXT,
  attrs      TEXT,
  updated_ms INTEGER NOT NULL,
  version    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS registry_user ON registry (user, version);
CREATE INDEX IF NOT EXISTS registry_terminal ON registry (terminal, version);
`;

export function registryFile(dataDir: string): string {
  return join(dataDir, REGISTRY_FILE);
}

interface RegistryRow {
  session: string;
  user: string | null;
  terminal: string | null;
  attrs: string | null;
  updated_ms: number;
}

export class RegistryDb {
  private db: Database.Database | null = null;
  private get!: Database.Statement;
  private upsert!: Database.Statement;
  private currentFor!: Record<'user' | 'terminal', Database.Statement>;
  private version = 0;

  /** The file is created by the first registration, so a server that never registers has none. */
  constructor(
    private readonly dataDir: string,
    private readonly synchronous: 'normal' | 'full',
  ) {
    if (existsSync(registryFile(dataDir))) this.open();
  }

  private open(): Database.Database {
    if (this.db) return this.db;
    const db = new Database(registryFile(this.dataDir));
    applyPragmas(db, this.synchronous);
    db.exec(REGISTRY_SCHEMA);
    this.get = db.prepare('SELECT session, user, terminal, attrs, updated_ms FROM registry WHERE session = ?');
    this.upsert = db.prepare(
      `INSERT INTO registry (session, user, terminal, attrs, updated_ms, version) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (session) DO UPDATE SET user = excluded.user, terminal = excluded.terminal, attrs = excluded.attrs,
         updated_ms = excluded.updated_ms, version = excluded.version`,
    );
    this.currentFor = {
      user: db.prepare('SELECT session FROM registry WHERE user = ? ORDER BY version DESC LIMIT 1'),
      terminal: db.prepare('SELECT session FROM registry WHERE terminal = ? ORDER BY version DESC LIMIT 1'),
    };
    this.version = (db.prepare('SELECT coalesce(max(version), 0) AS v FROM registry').get() as { v: number }).v;
    this.db = db;
    return db;
  }

  /**
   * Creates or replaces a session's registration (PUT semantics: fields left out are cleared) and
   * commits it. Returns, for every user and terminal the change touched, the session now current
   * for it (null: none any more), so the caller's cache can follow exactly.
   */
  register(session: string, reg: Registration, nowMs: number): RegistrationResult {
    const user = reg.user ?? null;
    const terminal = reg.terminal ?? null;
    const attrs = reg.attrs === undefined ? null : JSON.stringify(reg.attrs);
    const db = this.open();
    return db.transaction((): RegistrationResult => {
      const before = this.get.get(session) as RegistryRow | undefined;
      this.upsert.run(session, user, terminal, attrs, nowMs, ++this.version);
      const mappings: RegistrationResult['mappings'] = { users: [], terminals: [] };
      for (const u of new Set([before?.user ?? null, user])) {
        if (u !== null) mappings.users.push([u, this.current('user', u)]);
      }
      for (const t of new Set([before?.terminal ?? null, terminal])) {
        if (t !== null) mappings.terminals.push([t, this.current('terminal', t)]);
      }
      return {
        created: before === undefined,
        registration: { session, user, terminal, attrs: reg.attrs ?? null, updated: new Date(nowMs).toISOString() },
        mappings,
      };
    })();
  }

  /** The current session of every user and terminal, for the receiving thread's cache at start. */
  mappings(): RegistryMappings {
    const users = new Map<string, string>();
    const terminals = new Map<string, string>();
    if (!this.db) return { users: [], terminals: [] };
    // Oldest first: a later registration of the same user or terminal replaces an earlier one.
    for (const r of this.db.prepare('SELECT session, user, terminal FROM registry ORDER BY version').iterate() as Iterable<RegistryRow>) {
      if (r.user !== null) users.set(r.user, r.session);
      if (r.terminal !== null) terminals.set(r.terminal, r.session);
    }
    return { users: [...users], terminals: [...terminals] };
  }

  close(): void {
    this.db?.close();
    this.db = null;
  }

  private current(field: 'user' | 'terminal', value: string): string | null {
    return (this.currentFor[field].get(value) as { session: string } | undefined)?.session ?? null;
  }
}
