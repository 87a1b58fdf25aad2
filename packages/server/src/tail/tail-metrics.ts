/** Tail metrics (SPEC §7: tail clients, commit-to-tail latency), on the server's registry. */
import type { Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';

export function createTailMetrics(registry: Registry | undefined, clientsNow: () => number, subscriptionsNow: () => number) {
  const registers = registry ? [registry] : [];
  return {
    clients: new Gauge({
      name: 'logsrv_tail_clients',
      help: 'Open live tail (SSE) connections',
      registers,
      collect() {
        this.set(clientsNow());
      },
    }),
    subscriptions: new Gauge({
      name: 'logsrv_tail_subscriptions',
      help: 'Distinct tail filters being followed (each shared by all its viewers)',
      registers,
      collect() {
        this.set(subscriptionsNow());
      },
    }),
    lagged: new Counter({ name: 'logsrv_tail_lagged_total', help: 'Tail clients disconnected for being too slow (event: lagged)', registers }),
    commitToTail: new Histogram({
      name: 'logsrv_tail_commit_to_send_seconds',
      help: 'From a batch commit to its frames being written to every tail socket',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
}

export type TailMetrics = ReturnType<typeof createTailMetrics>;
