/**
 * The data directory, checked and locked before anything is served from it.
 *
 * Contract: `openDataDir(dir)` either returns a held lock on a directory that this process has just
 * written to, or throws a {@link DataDirError} whose message is one line saying what is wrong and
 * what to do. A server that starts has therefore written a file under `--data` once; one that
 * cannot fails at start instead of answering every write with an error later.
 *
 * The lock is a file `<data>/logsrv.pid` created exclusively (`O_EXCL`), holding the owner's pid.
 * A lock whose process is gone (crashed, `kill -9`, or a pid now used by something that is not a
 * node process) is stale and taken over. The holder removes it on `release()` and, as a last
 * resort, on process exit. `logsrv archive` / `restore` do not take it: they are meant to run
 * beside a server.
 */
import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The data directory cannot be used: the message is meant for the user as it is. */
export class DataDirError extends Error {
  override name = 'DataDirError';
}

export interface DataDirLock {
  /** The lock file's path. */
  readonly path: string;
  /** Removes the lock (only if it is still ours). Idempotent. */
  release(): void;
}

export const LOCK_FILE = 'logsrv.pid';

/** Directories locked by this process: a second server in the same process is refused too. */
const heldHere = new Set<string>();

// Pseudo file systems: writes there do not store anything (or block), so they are refused by type.
const PSEUDO_FS: Record<number, string> = {
  40864: 'procfs',
  1650812274: 'sysfs',
  7377: 'devpts',
  1684170528: 'debugfs',
  2613483: 'cgroup',
  1667723888: 'cgroup2',
};

/**
 * `lock: false` checks and probes without locking: with PostgreSQL the directory holds only tokens
 * and archives, which the processes of one deployment may share.
 */
export function openDataDir(dir: string, opts: { lock?: boolean } = {}): DataDirLock {
  const shown = `--data ${dir}`;
  checkDirectory(dir, shown);
  probeWrite(dir, shown);
  if (opts.lock === false) return { path: join(resolve(dir), LOCK_FILE), release() {} };
  return lock(dir, shown);
}

function explain(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'ENOENT':
      return 'the path cannot be created here';
    default:
      return e.code ? `${e.code}: ${e.message}` : String(err);
  }
}

function checkDirectory(dir: string, shown: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
    if (!isDir) throw new DataDirError(`${shown} is not a directory; name a directory (it is created when missing)`);
  } catch (err) {
    if (err instanceof DataDirError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DataDirError(`${shown} cannot be used: ${explain(err)}`);
  }
  if (!isDir) {
    // Refuse to create anything on a pseudo file system: mkdir there fails or hangs later.
    pseudoFsCheck(nearestExisting(dir), shown);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new DataDirError(`${shown} cannot be created: ${explain(err)}; pick a directory you can write with --data`);
    }
  }
  pseudoFsCheck(dir, shown);
}

function nearestExisting(dir: string): string {
  let p = resolve(dir);
  for (;;) {
    try {
      lstatSync(p);
      return p;
    } catch {
      const up = resolve(p, '..');
      if (up === p) return p;
      p = up;
    }
  }
}

function pseudoFsCheck(path: string, shown: string): void {
  let type: number;
  try {
    type = Number(statfsSync(path).type);
  } catch {
    return; // statfs is advisory here: the write probe still runs
  }
  const name = PSEUDO_FS[type];
  if (name) throw new DataDirError(`${shown} is on ${name}, which cannot hold files; pick a directory on a disk with --data`);
}

/** Creates, writes, syncs and removes a small file: the server's first write, made at start. */
function probeWrite(dir: string, shown: string): void {
  const path = join(dir, `.logsrv-write-check-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_CREAT | constants.O_WRONLY | constants.O_TRUNC, 0o600);
    writeSync(fd, Buffer.alloc(4096, 0x2e));
    fsyncSync(fd);
  } catch (err) {
    throw new DataDirError(`${shown} is not writable: ${explain(err)}; fix its permissions or pick another directory with --data`);
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(path);
    } catch {}
  }
}

function lock(dir: string, shown: string): DataDirLock {
  const key = resolve(dir);
  if (heldHere.has(key)) throw new DataDirError(`${shown} is already in use by this process (pid ${process.pid})`);
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DataDirError(`${shown}: cannot create its lock ${path}: ${explain(err)}`);
      const holder = readHolder(path);
      if (holder !== null && holder !== process.pid && alive(holder)) {
        throw new DataDirError(`${shown} is in use by another logsrv (pid ${holder}, lock ${path}); stop it first, or give this server its own --data`);
      }
      // Stale (its process is gone, or the pid is ours from before a restart): take it over. Two
      // starters racing here both unlink, but only one of them wins the exclusive create.
      if (attempt >= 3) throw new DataDirError(`${shown}: could not take over the stale lock ${path}; remove it if no logsrv runs there`);
      try {
        unlinkSync(path);
      } catch {}
    }
  }
  heldHere.add(key);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(key);
    process.off('exit', release);
    try {
      if (readHolder(path) === process.pid) unlinkSync(path);
    } catch {}
  };
  process.on('exit', release);
  return { path, release };
}

function readHolder(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Whether `pid` is a live process that could be a logsrv (a reused pid of another program is not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // A zombie (exited, not yet reaped by its parent) holds nothing.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\)\s+Z\s/.test(stat)) return false;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /node|logsrv/.test(cmd);
  } catch {
    return true; // no /proc (not Linux) or not ours to read: trust kill(0)
  }
}
