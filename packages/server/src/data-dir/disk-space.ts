/**
 * Free space on the disk of the data directory, as ingest sees it.
 *
 * Contract: {@link DiskGuard.refusal} says, without touching the disk on the caller's thread,
 * whether writes should be refused now (free space under `--min-free-disk-bytes`), and
 * {@link DiskGuard.storeFailure} turns a store failure that means "the disk is full" (SQLite's
 * SQLITE_FULL, ENOSPC) into the 507 a client can act on. Reads are never refused here, and
 * nothing is latched: as soon as space is back, writes go through again.
 *
 * The free-space figure comes from an asynchronous `statfs`, started at most once per
 * {@link REFRESH_MS} by the calls themselves (no timer to stop), so a check costs a comparison.
 */
import { statfs } from 'node:fs/promises';
import { formatBytes, LogsrvError } from '@logsrv/protocol';

const REFRESH_MS = 1000;
/** What a client is told to wait before retrying a refused write. */
export const DISK_FULL_RETRY_AFTER_S = 5;

const FULL_MESSAGE = /database or disk is full|SQLITE_FULL|ENOSPC|no space left on device|EDQUOT|quota exceeded/i;

export class DiskGuard {
  private free: number | null = null;
  private checkedAt = 0;
  private refreshing = false;

  constructor(
    private readonly dataDir: string,
    private readonly minFreeBytes: number,
  ) {
    this.refresh();
  }

  /** The 507 to answer a write with now, or null. Refreshes the figure in the background. */
  refusal(): LogsrvError | null {
    this.maybeRefresh();
    if (this.minFreeBytes <= 0 || this.free === null || this.free >= this.minFreeBytes) return null;
    return this.error(`${formatBytes(this.free)} free, under --min-free-disk-bytes ${formatBytes(this.minFreeBytes)}`);
  }

  /** The 507 for a store failure that means a full disk; null for any other failure. */
  storeFailure(err: unknown): LogsrvError | null {
    if (err instanceof LogsrvError) return null;
    const message = err instanceof Error ? err.message : String(err);
    // A failed write while almost nothing is free is the full disk too, whatever SQLite called it
    // (a WAL append that hits ENOSPC can surface as "disk I/O error").
    const nearlyFull = this.free !== null && this.free < 1024 * 1024 && /disk I\/O error|SQLITE_IOERR/i.test(message);
    if (!FULL_MESSAGE.test(message) && !nearlyFull) return null;
    this.checkedAt = 0; // the next check reads the disk again
    return this.error(this.free === null ? 'no space left' : `${formatBytes(this.free)} free`);
  }

  private error(state: string): LogsrvError {
    return new LogsrvError(
      'LOGSRV_ERR_DISK_FULL',
      `disk full: the disk of the data directory ${this.dataDir} has ${state}; events are not stored until space is freed there (reads still work); retry after ${DISK_FULL_RETRY_AFTER_S} s`,
    );
  }

  private maybeRefresh(): void {
    if (Date.now() - this.checkedAt >= REFRESH_MS) this.refresh();
  }

  private refresh(): void {
    if (this.refreshing) return;
    this.refreshing = true;
    this.checkedAt = Date.now();
    statfs(this.dataDir).then(
      (s) => {
        this.free = Number(s.bavail) * Number(s.bsize);
        this.refreshing = false;
      },
      () => {
        this.refreshing = false; // unknown: the guard does not refuse on a figure it does not have
      },
    );
  }
}
