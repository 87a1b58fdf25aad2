/**
 * The index thread (index-file.ts): follows the day files the writer commits to and adds their
 * rows to each day's index file, so that tokenizing runs on another core than the writer's commit.
 * It follows them as day-follower.ts describes, in transactions of at most INDEX_STEP_ROWS rows;
 * the writer waits on its progress when the lag is over its bound.
 */
import type { MessagePort } from 'node:worker_threads';
import { workerData } from 'node:worker_threads';
import { nameThisThread } from '../../thread-name.js';
import { followDays } from './day-follower.js';
import { INDEX_STEP_ROWS, IndexFollower, IndexProgress, indexFile } from './index-file.js';

nameThisThread('logsrv-index');

interface IndexerData {
  dataDir: string;
  synchronous: 'normal' | 'full';
  searchChunkRows: number;
  progress: SharedArrayBuffer;
  /** Hints from the writer: the day (`YYYYMMDD`) of each commit. */
  port: MessagePort;
}

const { dataDir, synchronous, searchChunkRows, progress, port } = workerData as IndexerData;

followDays({
  dataDir,
  port,
  progress: new IndexProgress(progress),
  what: 'search index',
  derivedFile: indexFile,
  open: (indexPath, dayPath) => new IndexFollower(indexPath, dayPath, synchronous, searchChunkRows),
  stepRows: INDEX_STEP_ROWS,
  closeCatchUpSteps: 0,
});
