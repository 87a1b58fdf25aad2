export { DISK_FULL_RETRY_AFTER_S, DiskGuard } from './disk-space.js';
export type { DataDirLock } from './open-data-dir.js';
export { DataDirError, LOCK_FILE, openDataDir } from './open-data-dir.js';
