/**
 * The WAL checkpoint thread. SQLite's automatic checkpoint runs inside the COMMIT that crosses
 * 1000 WAL pages: it copies the pages into the database file and fsyncs both files, ~10 ms on
 * this kind of disk. With one commit per line at 100 lines/s, every ~60th line waited for it —
 * the p99 of live tail latency. The writer turns that off (wal_autocheckpoint = 0) and this
 * thread checkpoints the day file being written instead, beside the writer, on its own
 * connection.
 *
 * Contract with the writer thread (writer-worker.ts):
 *  - messages `{ file }` name the day file written now (the previous one is checkpointed once
 *    more and closed); `{ close: true }` closes the connection and then sets `state[ACK]` and
 *    wakes the writer, which waits for it (Atomics.wait) before its own final checkpoint;
 *  - `state[COMMITS]` is bumped by the writer after each commit, and `state[ROWS]` by the rows
 *    it stored: a round with no new commit does nothing.
 *
 * After CHECKPOINT_COMMITS commits holding CHECKPOINT_ROWS rows (so at most every POLL_MS under
 * load), after CHECKPOINT_MAX_COMMITS commits, or CHECKPOINT_MAX_MS after any commit, a PASSIVE
 * checkpoint copies what it can without blocking anyone.
 *
 * Why not more often when commits are small: a checkpoint that copies the whole WAL (the usual
 * case when the writer is not busy) makes the next COMMIT start the WAL over, and SQLite writes
 * and fsyncs the WAL's new header inside that COMMIT (0.6–15 ms here, seen with strace). With one
 * line per commit at 100 lines/s and a checkpoint every 64 commits, that was one line in 64: above
 * the p99 of `bench live-e2e`. Rounds of at least CHECKPOINT_ROWS rows leave big commits as they
 * were, and make it one small commit in ~1000 (at most CHECKPOINT_MAX_COMMITS commits, ~6 WAL
 * pages each, or CHECKPOINT_MAX_MS, between two).
 * The WAL only starts over from its beginning when a checkpoint has copied all of it before the
 * next write; a writer that never pauses could let it grow without end, so past
 * RESTART_WAL_PAGES a RESTART checkpoint waits up to RESTART_WAIT_MS for the writer to be between
 * transactions and then holds it back for the few pages the passive round left and the fsync
 * (what SQLite's own checkpoint did every 1000 pages, here once per 8192 under sustained load);
 * if it cannot, it acts as a passive one and the next round tries again.
 *
 * RESTART, not TRUNCATE: the writer waits for all of it, and cutting a 32 MiB WAL file back to
 * nothing took ~33 ms of that (strace, ingest-http), after which the writer's next pages had to
 * grow the file again. A restarted WAL keeps its file and is written over from its start. The
 * file is given back once the writer has been idle for IDLE_TRUNCATE_MS: a TRUNCATE then holds
 * up nobody.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { nameThisThread } from '../../thread-name.js';

nameThisThread('logsrv-ckpt');

/** Indices into the shared state (the writer uses the same). */
const COMMITS = 0;
const ACK = 1;
const ROWS = 2;
/** How often the commit counter is looked at. */
const POLL_MS = 100;
/** A checkpoint runs after this many commits holding CHECKPOINT_ROWS rows, after CHECKPOINT_MAX_COMMITS, or after CHECKPOINT_MAX_MS with any commit. */
const CHECKPOINT_COMMITS = 64;
const CHECKPOINT_ROWS = 4096;
const CHECKPOINT_MAX_COMMITS = 1024;
const CHECKPOINT_MAX_MS = 10_000;
/** WAL pages (4 KiB each) past which the WAL is made to start over (its file kept, see IDLE_TRUNCATE_MS): 32 MiB. */
const RESTART_WAL_PAGES = 8192;
/** Longest wait of a RESTART (or TRUNCATE) checkpoint for the writer's lock and for readers, so the writer's longest stall by it. */
const RESTART_WAIT_MS = 50;
/** No commit for this long: the WAL file is cut back to nothing (TRUNCATE). */
const IDLE_TRUNCATE_MS = 15_000;

interface CheckpointData {
  state: SharedArrayBuffer;
}

const state = new Int32Array((workerData as CheckpointData).state);
let db: Database.Database | null = null;
let seen = 0;
let seenRows = 0;
let lastAt = 0;
/** The commit count the poll saw last, when it saw it change, and whether the WAL was cut back since. */
let polled = 0;
let polledAt = 0;
let truncated = true;

type CheckpointRow = { busy: number; log: number; checkpointed: number };

/** A checkpoint that may wait RESTART_WAIT_MS for the writer and readers; true when it got them (`busy` 0). */
function checkpointWaiting(mode: 'RESTART' | 'TRUNCATE'): boolean {
  if (!db) return false;
  db.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
  try {
    const row = db.pragma(`wal_checkpoint(${mode})`, { simple: false }) as CheckpointRow[];
    return row[0]?.busy === 0;
  } finally {
    db.pragma('busy_timeout = 0');
  }
}

function checkpoint(): void {
  if (!db) return;
  const row = db.pragma('wal_checkpoint(PASSIVE)', { simple: false }) as CheckpointRow[];
  if ((row[0]?.log ?? 0) < RESTART_WAL_PAGES) return;
  checkpointWaiting('RESTART');
}

function closeDb(): void {
  if (!db) return;
  try {
    checkpoint();
  } finally {
    db.close();
    db = null;
  }
}

const timer = setInterval(() => {
  const commits = Atomics.load(state, COMMITS);
  const rows = Atomics.load(state, ROWS);
  const now = performance.now();
  if (commits !== polled) {
    polled = commits;
    polledAt = now;
    truncated = false;
  } else if (!truncated && db && now - polledAt >= IDLE_TRUNCATE_MS) {
    // Idle: the WAL file (kept at its size by RESTART) is given back; tried again at the next poll when busy.
    try {
      truncated = checkpointWaiting('TRUNCATE');
    } catch {
      // Locked: the next poll tries again.
    }
    return;
  }
  if (commits === seen) return;
  const n = (commits - seen) | 0; // the counters wrap at 2^31
  const big = n >= CHECKPOINT_COMMITS && ((rows - seenRows) | 0) >= CHECKPOINT_ROWS;
  if (!big && n < CHECKPOINT_MAX_COMMITS && now - lastAt < CHECKPOINT_MAX_MS) return;
  seen = commits;
  seenRows = rows;
  lastAt = now;
  try {
    checkpoint();
  } catch {
    // Busy or locked: the next round tries again; the writer's own checkpoint at close is the last word.
  }
}, POLL_MS);

parentPort?.on('message', (m: { file?: string; close?: boolean }) => {
  try {
    closeDb();
  } catch {
    // The file's last checkpoint failed: the writer's next checkpoint or the next open covers it.
  }
  if (m.close) {
    clearInterval(timer);
    Atomics.store(state, ACK, 1);
    Atomics.notify(state, ACK);
    parentPort?.close();
    return;
  }
  if (m.file) {
    db = new Database(m.file);
    // Never wait: a checkpoint that cannot get a lock at once does what it can, and the writer
    // is never held up behind this connection's busy wait.
    db.pragma('busy_timeout = 0');
    seen = Atomics.load(state, COMMITS) - CHECKPOINT_MAX_COMMITS; // the new file's first round: at the next poll
    truncated = false;
  }
});
