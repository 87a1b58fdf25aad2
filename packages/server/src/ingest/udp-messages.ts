/** What crosses between the main thread and the UDP receive thread (`udp-worker.ts`). */
import type { PackedEvents } from '../batch/index.js';

export interface UdpWorkerData {
  host: string;
  port: number;
  recvBufferBytes: number;
  maxDatagramBytes: number;
  maxLineBytes: number;
  /** Events per batch handed to the main thread. */
  batchEvents: number;
  /** Events handed over and not yet taken before new ones are dropped as `queue_full`. */
  maxUnackedEvents: number;
  rateLimit: { perSecond: number; burst: number } | null;
  /** `json`: NDJSON events (SPEC §2); `syslog`: one RFC 5424/3164 message per datagram (RFC 5426), mapped by syslog/to-event.ts. */
  format: 'json' | 'syslog';
  /** The `--syslog-session` template (format `syslog`). */
  syslogSession: string;
  /** `auto`: the native recvmmsg reader where it is built (Linux), else node:dgram; `dgram`: node:dgram. */
  reader: 'auto' | 'dgram';
}

export interface UdpBatch {
  type: 'batch';
  /** Valid events, or null when only counts changed. */
  packed: PackedEvents | null;
  /** Text bytes of those events, for the queue's byte bound. */
  bytes: number;
  /** Indexes of events that came without a session: resolved from the registry, else dropped. */
  unresolved: number[];
  /** Events (lines) read since the previous message, valid or not. */
  received: number;
  drops: Array<[reason: string, count: number]>;
  /** Rate-limited datagrams by source address. */
  blocked: Array<[source: string, count: number]>;
}

/** How the receive thread reads its socket. */
export type UdpReaderKind = 'recvmmsg' | 'dgram';

export type FromUdpWorker =
  | UdpBatch
  /** `why`: the reason node:dgram reads the socket (empty for recvmmsg). */
  | { type: 'bound'; port: number; grantedBytes: number; reader: UdpReaderKind; why: string }
  | { type: 'failed'; message: string }
  | { type: 'warn'; message: string }
  | { type: 'closed' };

export type ToUdpWorker = { type: 'ack'; events: number } | { type: 'close' };
