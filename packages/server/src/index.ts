export type { Scope, TokenEntry } from './auth/index.js';
export { createToken, readTokenFile, revokeToken, SCOPES } from './auth/index.js';
// The engines behind the seams, for the contract suites and for embedding.
export type { IdentifiedBatch } from './batch/index.js';
export type { ServerConfig } from './config.js';
export { ConfigError, loadConfig, OPTIONS, optionSpecs } from './config.js';
export type { RunningServer, StartOptions } from './main.js';
export { StartError, startServer } from './main.js';
export type { CommitFeed, CommitNotice } from './queue/commit-feed.js';
export { MemoryQueue } from './queue/memory-queue.js';
export type { Accepted, Queue, TakenBatch } from './queue/queue.js';
export type { PgRestoredDay } from './store/postgres/archive.js';
export { PgArchiveError } from './store/postgres/archive.js';
export type { PostgresStoreOptions } from './store/postgres/postgres-store.js';
export { PostgresReadOnlyError, PostgresStore } from './store/postgres/postgres-store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export type { AppendResult, EventPage, SessionQuery, Store } from './store/store.js';
export { Writer } from './writer/writer.js';
