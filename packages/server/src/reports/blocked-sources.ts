/**
 * Which sources the rate limits refused, for `GET /v1/reports/blocked` (seed 003: report blocked
 * IPs to the teams that own them). In memory and bounded: counts per source in one-minute
 * buckets for the last 24 h, at most `maxSources` sources (the least recently limited dropped
 * first). Counts restart with the server.
 */
export interface BlockedSource {
  source: string;
  transport: 'http' | 'udp';
  /** Refusals within the window. */
  count: number;
  /** First and last refusal within the window. */
  firstSeen: string;
  lastSeen: string;
}

interface Entry {
  source: string;
  transport: 'http' | 'udp';
  /** minute (epoch ms / 60000) → refusals, oldest first */
  minutes: Map<number, number>;
  first: number;
  last: number;
}

const MINUTE = 60_000;
export const MAX_WINDOW_MS = 24 * 60 * MINUTE;

export class BlockedSources {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxSources = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  record(source: string, transport: 'http' | 'udp', n = 1): void {
    const key = `${transport} ${source}`;
    const now = this.clock();
    const minute = Math.floor(now / MINUTE);
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // re-inserted below: Map order is least recently limited first
    } else {
      e = { source, transport, minutes: new Map(), first: now, last: now };
    }
    e.minutes.set(minute, (e.minutes.get(minute) ?? 0) + n);
    e.last = now;
    for (const m of e.minutes.keys()) {
      if (m * MINUTE >= now - MAX_WINDOW_MS) break;
      e.minutes.delete(m);
    }
    this.entries.set(key, e);
    if (this.entries.size > this.maxSources) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Sources refused within the last `windowMs` (at most 24 h, minute resolution), most refused first. */
  list(windowMs: number): BlockedSource[] {
    const now = this.clock();
    const fromMinute = Math.floor((now - Math.min(windowMs, MAX_WINDOW_MS)) / MINUTE);
    const out: BlockedSource[] = [];
    for (const e of this.entries.values()) {
      let count = 0;
      let firstMinute = -1;
      for (const [m, c] of e.minutes) {
        if (m < fromMinute) continue;
        if (firstMinute < 0) firstMinute = m;
        count += c;
      }
      if (count === 0) continue;
      const first = Math.max(e.first, firstMinute * MINUTE);
      out.push({ source: e.source, transport: e.transport, count, firstSeen: new Date(first).toISOString(), lastSeen: new Date(e.last).toISOString() });
    }
    return out.sort((a, b) => b.count - a.count);
  }
}
