/**
 * The session registry (SPEC §5) in the `registry` table, shared by every instance: which user and
 * terminal a session belongs to, and its attrs. "The session currently registered for" a user (or
 * terminal) is the one whose registration naming it is the newest: `version` comes from a sequence,
 * so the order does not depend on any instance's clock. See sqlite/registry-db.ts for the rules.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { Registration, RegistrationResult, RegistryMappings } from '../store.js';
import { pgText } from './copy-rows.js';

async function current(tx: TransactionSql, field: 'user' | 'terminal', value: string): Promise<string | null> {
  const text = `SELECT session FROM registry WHERE ${field === 'user' ? '"user"' : 'terminal'} = $1 ORDER BY version DESC LIMIT 1`;
  const [r] = await tx.unsafe<{ session: string }[]>(text, [value], { prepare: true });
  return r?.session ?? null;
}

/** Creates or replaces a registration (PUT semantics: fields left out are cleared) and commits it. */
export async function register(sql: Sql, session: string, reg: Registration, nowMs: number): Promise<RegistrationResult> {
  const s = pgText(session);
  const user = reg.user === undefined ? null : pgText(reg.user);
  const terminal = reg.terminal === undefined ? null : pgText(reg.terminal);
  const attrs = reg.attrs === undefined ? null : JSON.stringify(reg.attrs);
  return sql.begin(async (tx) => {
    // The row lock orders concurrent registrations of one session.
    const [before] = await tx<{ user: string | null; terminal: string | null }[]>`
      SELECT "user", terminal FROM registry WHERE session = ${s} FOR UPDATE`;
    await tx`INSERT INTO registry (session, "user", terminal, attrs, updated_ms, version)
             VALUES (${s}, ${user}, ${terminal}, ${attrs}, ${nowMs}, nextval('registry_version'))
             ON CONFLICT (session) DO UPDATE SET "user" = excluded."user", terminal = excluded.terminal, attrs = excluded.attrs,
               updated_ms = excluded.updated_ms, version = excluded.version`;
    const mappings: RegistrationResult['mappings'] = { users: [], terminals: [] };
    for (const u of new Set([before?.user ?? null, user])) if (u !== null) mappings.users.push([u, await current(tx, 'user', u)]);
    for (const t of new Set([before?.terminal ?? null, terminal])) if (t !== null) mappings.terminals.push([t, await current(tx, 'terminal', t)]);
    return {
      created: before === undefined,
      registration: { session, user: reg.user ?? null, terminal: reg.terminal ?? null, attrs: reg.attrs ?? null, updated: new Date(nowMs).toISOString() },
      mappings,
    };
  });
}

/** The current session of every user and terminal. */
export async function registryMappings(sql: Sql): Promise<RegistryMappings> {
  const users = new Map<string, string>();
  const terminals = new Map<string, string>();
  // Oldest first: a later registration of the same user or terminal replaces an earlier one.
  await sql<{ session: string; user: string | null; terminal: string | null }[]>`
    SELECT session, "user", terminal FROM registry ORDER BY version`.forEach((r) => {
    if (r.user !== null) users.set(r.user, r.session);
    if (r.terminal !== null) terminals.set(r.terminal, r.session);
  });
  return { users: [...users], terminals: [...terminals] };
}
