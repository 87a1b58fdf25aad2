/** Runs {@link archiveDays} off the main thread for a running server's retention. */
import { parentPort, workerData } from 'node:worker_threads';
import { nameThisThread } from '../../thread-name.js';
import { archiveDays } from './archive.js';

nameThisThread('logsrv-archive');

const { dataDir, before, today } = workerData as { dataDir: string; before: string; today: string };
archiveDays(dataDir, before, today).then(
  (days) => parentPort?.postMessage({ ok: true, days }),
  (err: Error) => parentPort?.postMessage({ ok: false, error: err.message }),
);
