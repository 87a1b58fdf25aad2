/** Runs {@link archiveDays} off the main thread for a running server's retention. */
import { parentPort, workerData } from 'node:worker_threads';
import { archiveDays } from './archive.js';

const { dataDir, before, today } = workerData as { dataDir: string; before: string; today: string };
archiveDays(dataDir, before, today).then(
  (days) => parentPort?.postMessage({ ok: true, days }),
  (err: Error) => parentPort?.postMessage({ ok: false, error: err.message }),
);
