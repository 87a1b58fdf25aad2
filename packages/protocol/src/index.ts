export * from './errors.js';
export * from './event.js';
export * from './id.js';
export * from './session-end.js';
export * from './terminal-line.js';
