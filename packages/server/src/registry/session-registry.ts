/**
 * The receiving thread's view of the session registry (SPEC §5): which session is current for
 * each user and terminal, so an event that arrives without `session` is enriched at ingest with a
 * map lookup — no storage call on the thread that reads sockets. The registry itself lives in the
 * store (registry.db, written by the writer thread); this cache is filled from it at start and
 * updated from the store's answer to each registration, in commit order, before that
 * registration's response is sent: an event sent after a `PUT` returned is enriched by it.
 */
import type { SessionResolver } from '../ingest/accept.js';
import type { Registration, RegistrationResult, Store } from '../store/store.js';

export class SessionRegistry {
  private readonly users = new Map<string, string>();
  private readonly terminals = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly clock: () => number,
  ) {}

  /** Fills the cache from the store; call once before ingest starts. */
  async load(): Promise<void> {
    const m = await this.store.registryMappings();
    for (const [user, session] of m.users) this.users.set(user, session);
    for (const [terminal, session] of m.terminals) this.terminals.set(terminal, session);
  }

  /** Users and terminals with a current session. */
  get size(): number {
    return this.users.size + this.terminals.size;
  }

  /**
   * The session of an event without one: the session registered for its terminal, else for its
   * user. A terminal is the narrower key — one terminal belongs to one session at a time, a user
   * may have several — so it wins when both are given and name different sessions.
   */
  readonly resolve: SessionResolver = (user, terminal) => {
    const byTerminal = terminal === undefined ? undefined : this.terminals.get(terminal);
    if (byTerminal !== undefined) return byTerminal;
    return user === undefined ? undefined : this.users.get(user);
  };

  /**
   * Other processes of a deployment that keep the same cache (registry-sync.ts): told of every
   * registration made here, after it is durable and before it is answered.
   */
  announce: ((m: RegistrationResult['mappings']) => Promise<void>) | null = null;

  /** Creates or replaces a registration; resolves once it is durable and the cache follows it. */
  async register(session: string, reg: Registration): Promise<RegistrationResult> {
    const r = await this.store.register(session, reg, this.clock());
    this.apply(r.mappings);
    await this.announce?.(r.mappings);
    return r;
  }

  /** Takes a registration's effect on the current sessions (made here or by another process). */
  apply(m: RegistrationResult['mappings']): void {
    for (const [user, current] of m.users) {
      if (current === null) this.users.delete(user);
      else this.users.set(user, current);
    }
    for (const [terminal, current] of m.terminals) {
      if (current === null) this.terminals.delete(terminal);
      else this.terminals.set(terminal, current);
    }
  }
}
