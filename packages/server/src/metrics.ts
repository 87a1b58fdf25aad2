/**
 * Prometheus metrics (SPEC §7). One registry per server instance so tests and several servers in
 * one process do not share counters.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the store and queue report at each scrape; absent: 0. */
export interface SampledSources {
  queueDepth?: () => number;
  searchIndexLagRows?: () => number;
  sessionChunksLagRows?: () => number;
  /** A running total (seconds since the store opened): each scrape adds its increase to the counter. */
  searchIndexWaitSeconds?: () => number;
}

export function createMetrics(sources: SampledSources = {}) {
  const zero = () => 0;
  const registry = new Registry();
  const received = new Counter({ name: 'logsrv_received_total', help: 'Events received, valid or not', labelNames: ['transport'], registers: [registry] });
  const accepted = new Counter({ name: 'logsrv_accepted_total', help: 'Events committed to the store', labelNames: ['transport'], registers: [registry] });
  const duplicates = new Counter({
    name: 'logsrv_duplicates_total',
    help: 'Events acknowledged but not stored again: their (producer, seq) was already committed',
    labelNames: ['transport'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'logsrv_rejected_total',
    help: 'Events rejected and reported back to the sender, by reason',
    labelNames: ['transport', 'reason'],
    registers: [registry],
  });
  /** Run before each scrape of `logsrv_dropped_total`, e.g. to add kernel-side UDP drops. */
  const beforeDroppedScrape: (() => void)[] = [];
  const dropped = new Counter({
    name: 'logsrv_dropped_total',
    help: 'Events dropped without a reply to the sender (UDP, overload), by reason',
    labelNames: ['transport', 'reason'],
    registers: [registry],
    collect() {
      for (const f of beforeDroppedScrape) f();
    },
  });
  /** A gauge whose value is read at each scrape. */
  const sampled = (name: string, help: string, now: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(now());
      },
    });
  const queueDepth = sampled('logsrv_queue_depth', 'Events waiting for the writer', sources.queueDepth ?? zero);
  const indexLag = sampled(
    'logsrv_search_index_lag_rows',
    'Rows committed but not yet in the full-text index (searched by scanning meanwhile; the writer waits past --search-index-max-lag-rows)',
    sources.searchIndexLagRows ?? zero,
  );
  let indexWaitSeen = 0;
  const indexWait = new Counter({
    name: 'logsrv_search_index_wait_seconds_total',
    help: 'Seconds the writer waited for the full-text index to come within --search-index-max-lag-rows (commits, and so ingest, wait meanwhile)',
    registers: [registry],
    collect() {
      const now = sources.searchIndexWaitSeconds?.() ?? 0;
      if (now > indexWaitSeen) {
        this.inc(now - indexWaitSeen);
        indexWaitSeen = now;
      }
    },
  });
  const chunksLag = sampled(
    'logsrv_session_chunks_lag_rows',
    "Rows committed but not yet in their sessions' chunks (session pages read them from the day file meanwhile; nothing waits for it)",
    sources.sessionChunksLagRows ?? zero,
  );
  const batchSeconds = new Histogram({
    name: 'logsrv_writer_batch_seconds',
    help: 'Round trip of one writer batch to the store: copy to the writer thread, queueing behind the previous batch, commit, reply',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const batchEvents = new Histogram({
    name: 'logsrv_writer_batch_events',
    help: 'Events per writer batch (group commit size)',
    buckets: [1, 10, 100, 1000, 5000, 10000, 50000],
    registers: [registry],
  });
  return {
    registry,
    received,
    accepted,
    duplicates,
    rejected,
    dropped,
    beforeDroppedScrape,
    queueDepth,
    indexLag,
    indexWait,
    chunksLag,
    batchSeconds,
    batchEvents,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
