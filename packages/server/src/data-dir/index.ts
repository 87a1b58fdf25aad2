export type { DataDirLock } from './open-data-dir.js';
export { DataDirError, LOCK_FILE, openDataDir } from './open-data-dir.js';
