/**
 * `@logsrv/client/agent`: the parts `logsrv run`, `send` and `flush` use — the HTTP sender, its
 * spool and leftover delivery. An entry of its own because it loads no runtime code from
 * `@logsrv/protocol` (the typebox validator takes ~0.5 s to load here, more under load), so the
 * agent starts in ~0.2 s. Everything here is also exported from the package's main entry.
 */
export type { LeftoverDelivery, LeftoverOptions, LeftoverReport, LeftoverResult } from './deliver-leftovers.js';
export { deliverLeftovers } from './deliver-leftovers.js';
export type { CloseReport, HttpSenderOptions, OutgoingEvent, SenderNotice, SenderNoticeKind } from './http-sender.js';
export { HttpSender, normalizeServer } from './http-sender.js';
export type { PostOutcome, PostTarget, RejectedEvent } from './post-events.js';
export { parseRetryAfter, postNdjson } from './post-events.js';
export { randomHex } from './random-hex.js';
export type { SpoolBatch, SpoolMeta } from './spool.js';
export { defaultSpoolDir, pidAlive, Spool } from './spool.js';
