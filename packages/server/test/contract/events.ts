/** Event and batch builders shared by the contract suites. */
import type { NormalizedEvent } from '@logsrv/protocol';
import type { IdentifiedBatch } from '@logsrv/server';

export function ev(session: string, value: string, extra: Partial<NormalizedEvent> = {}): NormalizedEvent {
  return {
    session,
    key: 'stdout',
    value,
    vjson: 0,
    ts: null,
    component: null,
    user: null,
    terminal: null,
    step: null,
    level: null,
    attrs: null,
    producer: null,
    pseq: null,
    ...extra,
  };
}

/** A batch whose event i gets id `${ms}-${seq0 + i}`. */
export function batch(events: NormalizedEvent[], ms: number, seq0 = 0): IdentifiedBatch {
  return {
    events,
    ms: new Float64Array(events.length).fill(ms),
    seq: Float64Array.from(events, (_e, i) => seq0 + i),
  };
}

/** Concatenates batches (ids as they are). */
export function concat(...parts: IdentifiedBatch[]): IdentifiedBatch {
  const events = parts.flatMap((p) => p.events);
  const ms = new Float64Array(events.length);
  const seq = new Float64Array(events.length);
  let at = 0;
  for (const p of parts) {
    ms.set(p.ms, at);
    seq.set(p.seq, at);
    at += p.events.length;
  }
  return { events, ms, seq };
}

/** 2026-11-20T23:59:59.000Z and the next day. */
export const DAY1_LATE = Date.UTC(2026, 10, 20, 23, 59, 59);
export const DAY2_EARLY = Date.UTC(2026, 10, 21, 0, 0, 1);

/** Midnight between 2027-03-01 and 03-02: the report cases' events lie on both sides of it. */
export const REPORT_T0 = Date.UTC(2027, 2, 2);

/**
 * Events for the report cases, from 4 minutes before {@link REPORT_T0} to 4 minutes after, in
 * batches (ids increasing): numbers, objects with a numeric `value`, and values that are not
 * numeric (a string of digits, an object without `value`, text), spread over components and levels.
 */
export function reportEvents(): { raw: import('./report-brute.ts').RawEvent[]; batches: IdentifiedBatch[] } {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const comps = ['api', 'db', 'web', null];
  const levels = ['info', 'warn', 'error', null];
  const raw: import('./report-brute.ts').RawEvent[] = [];
  const batches: IdentifiedBatch[] = [];
  for (let b = 0; b < 16; b++) {
    const ms = REPORT_T0 - 240_000 + b * 30_000 + 7;
    const events: NormalizedEvent[] = [];
    for (let i = 0; i < 60; i++) {
      const component = comps[Math.floor(rand() * comps.length)] ?? null;
      const level = levels[Math.floor(rand() * levels.length)] ?? null;
      const r = rand();
      let key: string;
      let value: unknown;
      if (r < 0.4) {
        key = 'api.latency';
        const x = Math.round(Math.exp(rand() * 7) * 1000) / 1000;
        value = rand() < 0.5 ? x : { value: x, unit: 'ms' };
      } else if (r < 0.55) {
        key = 'db.rows';
        value = Math.floor(rand() * 200) - 20;
      } else if (r < 0.65) {
        key = 'api.latency';
        value = rand() < 0.5 ? '123' : { unit: 'ms' };
      } else {
        key = 'stdout';
        value = `line ${b}-${i}`;
      }
      raw.push({ ms, component, level, key, value });
      events.push(
        ev('c-report', typeof value === 'string' ? value : JSON.stringify(value), { key, vjson: typeof value === 'string' ? 0 : 1, component, level }),
      );
    }
    batches.push(batch(events, ms));
  }
  return { raw, batches };
}
