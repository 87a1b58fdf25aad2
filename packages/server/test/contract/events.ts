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
