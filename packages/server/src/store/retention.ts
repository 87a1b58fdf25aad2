/**
 * `serve --retention-days N` (SPEC §6): days more than N days before today leave the store for
 * the archive, whole, at start and then every hour. The store does the moving (for SQLite, on a
 * thread of its own); this only decides when and which.
 */
import { dayOf } from '@logsrv/protocol';
import type { ArchivedDayInfo, Store } from './store.js';

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  store: Store;
  /** Days before today to keep. */
  days: number;
  clock: () => number;
  everyMs?: number;
  info: (msg: string, days: ArchivedDayInfo[]) => void;
  warn: (msg: string) => void;
}

export interface Retention {
  /** Stops the schedule; resolves once a run in progress has finished. */
  stop(): Promise<void>;
}

/** The first day kept (`YYYYMMDD`): today and the `days` days before it stay. */
export function keepFrom(nowMs: number, days: number): string {
  return dayOf(nowMs - days * DAY_MS);
}

export function startRetention(o: RetentionOptions): Retention {
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const run = () => {
    if (stopped || running) return;
    const now = o.clock();
    const before = keepFrom(now, o.days);
    running = o.store
      .archive(before, dayOf(now))
      .then(
        (archived) => {
          if (archived.length > 0) o.info(`retention: archived ${archived.length} day(s) before ${before} (--retention-days ${o.days})`, archived);
        },
        (err: Error) => o.warn(`retention: ${err.message}; the days stay in the store and the next run tries again`),
      )
      .finally(() => {
        running = null;
      });
  };
  run();
  timer = setInterval(run, o.everyMs ?? 3_600_000);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
