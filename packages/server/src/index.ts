export type { Scope, TokenEntry } from './auth/index.js';
export { createToken, readTokenFile, revokeToken, SCOPES } from './auth/index.js';
export type { ServerConfig } from './config.js';
export { ConfigError, loadConfig, OPTIONS, optionSpecs } from './config.js';
export { DataDirError } from './data-dir/index.js';
export type { RunningServer, StartOptions } from './main.js';
export { StartError, startServer } from './main.js';
export type { Queue } from './queue/queue.js';
export type { EventPage, SessionQuery, Store } from './store/store.js';
