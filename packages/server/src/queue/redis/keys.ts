/**
 * Redis keys of one deployment. The URL's db number separates deployments that share a server;
 * every key of logsrv starts with `logsrv:`.
 *
 * - `logsrv:ids`           the last id handed out ("ms-seq"): one counter for all shards, so
 *                          ids are unique across streams and increase in acceptance order.
 * - `logsrv:q:<shard>`     a stream per shard; an entry holds one published batch's events of
 *                          that shard; its id is the id of its last event.
 * - `logsrv:backlog`       events published and not yet acknowledged (the queue bound).
 * - `logsrv:backlog-bytes` their size.
 * - `logsrv:last:<shard>`  the id of the shard's newest entry.
 * - `logsrv:wm:<shard>`    the shard's committed watermark: every entry ≤ it is in the store.
 * - `logsrv:trimmed:<shard>` the MINID the stream was last trimmed at: entries below it may be gone.
 * - `logsrv:lease:<shard>` which writer owns the shard (SET NX PX): one writer per shard at a
 *                          time, so a shard commits in stream order and its watermark is exact.
 * - `logsrv:writers`       live writers (sorted set, score = last heartbeat ms), for fair shares.
 * - channel `logsrv:commits`  commit notices (JSON), for receivers and readers.
 */
export const GROUP = 'writers';
export const IDS = 'logsrv:ids';
export const BACKLOG = 'logsrv:backlog';
export const BACKLOG_BYTES = 'logsrv:backlog-bytes';
export const WRITERS = 'logsrv:writers';
export const COMMITS_CHANNEL = 'logsrv:commits';

export const streamKey = (shard: number): string => `logsrv:q:${shard}`;
export const watermarkKey = (shard: number): string => `logsrv:wm:${shard}`;
export const lastKey = (shard: number): string => `logsrv:last:${shard}`;
export const trimmedKey = (shard: number): string => `logsrv:trimmed:${shard}`;
export const leaseKey = (shard: number): string => `logsrv:lease:${shard}`;

/** The shard of a session: FNV-1a over its UTF-16 code units, so one session is always in one stream. */
export function shardOf(session: string, shards: number): number {
  if (shards === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < session.length; i++) {
    h ^= session.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** A notice on COMMITS_CHANNEL: a shard's watermark moved over these entries. */
export interface CommitMessage {
  shard: number;
  /** The shard's watermark after this commit. */
  wm: string;
  entries: { id: string; duplicates?: number[] }[];
}
