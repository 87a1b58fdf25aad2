export type { TailFilter } from './filter.js';
export { HistoryPacer } from './history-pacer.js';
export type { TailHubOptions } from './hub.js';
export { TailHub } from './hub.js';
export type { TailRouteDeps } from './tail-route.js';
export { registerTailRoutes } from './tail-route.js';
