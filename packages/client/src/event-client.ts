/**
 * The event API for application code (issue 5): `createClient({url, transport})` and
 * `client.event({session, key, value})`.
 *
 * Contract:
 * - `event()` returns immediately and never throws, whatever it is given and whatever state the
 *   server is in. An event that cannot be sent is dropped and counted by reason (`stats()`), and
 *   `onError` hears about it.
 * - Memory is bounded: at most `maxBufferBytes` of events wait (in memory or in flight); past that,
 *   new events are dropped (`buffer_full`). The oldest are never evicted: what is queued goes out
 *   in order.
 * - UDP (`transport: 'udp'`) packs events as NDJSON into datagrams of at most `maxDatagramBytes`;
 *   an event too large for one datagram goes over HTTP instead (counted in `httpFallback`).
 *   HTTP (`transport: 'http'`) posts NDJSON batches, retried until committed.
 * - `flush()` and `close()` always resolve, within their timeout: the client never keeps the
 *   process alive by itself, and never makes it wait longer than asked.
 *
 * Everything runs on the caller's event loop; the client holds one UDP socket and/or one
 * keep-alive HTTP connection.
 */
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { hostname } from 'node:os';
import { formatBytes } from '@logsrv/protocol';
import type { ClientEvent, EventDefaults } from './event-encode.js';
import { encodeEvent } from './event-encode.js';
import { EventHttpSender } from './event-http-sender.js';
import type { ClientError, ClientStats } from './event-stats.js';
import { EventAccounting } from './event-stats.js';
import { UdpSender } from './udp-sender.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Largest UDP payload over IPv4 (65,535 − 8 UDP header − 20 IP header). */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;

export interface ClientOptions {
  /** The server's HTTP address. Default: `LOGSRV_SERVER`, else `http://127.0.0.1:7070`. */
  url?: string;
  /** How events travel. Default `'udp'`. */
  transport?: 'udp' | 'http';
  /** UDP address `host:port` (`[::1]:7071` for IPv6). Default: the url's host and `udpPort`. */
  udp?: string;
  /** UDP port on the url's host, when `udp` is not given. Default 7071 (the server's default). */
  udpPort?: number;
  /** Bearer token for HTTP (UDP has none). Default: `LOGSRV_TOKEN`. */
  token?: string;
  /** Fields merged into every event: `{session, component, ...}`; the event's own fields win. */
  defaults?: EventDefaults;
  /**
   * Largest datagram. Default 8192: one datagram on loopback and jumbo-frame networks, a few IP
   * fragments elsewhere (losing one loses the datagram; use 1400 to avoid fragmentation on a
   * 1500-byte MTU path). At most 65,507.
   */
  maxDatagramBytes?: number;
  /** Largest event as JSON; larger ones are dropped (`line_too_large`). Default 1 MiB, the server's line limit. */
  maxEventBytes?: number;
  /** Events waiting to be sent, in bytes of JSON, before new ones are dropped (`buffer_full`). Default 4 MiB. */
  maxBufferBytes?: number;
  /** Largest HTTP request body. Default 256 KiB. */
  maxBatchBytes?: number;
  /** An HTTP request without an answer for this long is retried. Default 10 s. */
  requestTimeoutMs?: number;
  /** First HTTP retry delay, doubling per failure. Default 100 ms. */
  retryMinMs?: number;
  /** Longest HTTP retry delay (a server's Retry-After may ask for more). Default 5 s. */
  retryMaxMs?: number;
  /** Stamped on HTTP events for idempotent retries. Default `<host>-<pid>-<random>`. */
  producer?: string;
  /** Told about every drop. Runs synchronously; what it throws is ignored. */
  onError?: (error: ClientError) => void;
}

export interface LogsrvClient {
  readonly transport: 'udp' | 'http';
  /** `host:port` events are sent to over UDP, or null for the HTTP transport. */
  readonly udpAddress: string | null;
  /** The server's HTTP base URL. */
  readonly url: string;
  /** Queues one event. Returns at once; never throws (a bad event is a counted drop). */
  event(event: ClientEvent): void;
  /** Counts so far: `events = queued + sent + droppedTotal`. */
  stats(): ClientStats;
  /**
   * Sends everything queued now; true when each of those events was sent or dropped (see `stats()`)
   * before `timeoutMs` (default 5000), false when some are still queued. Never rejects.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /**
   * Stops taking events (later ones are dropped as `closed`), delivers what is queued for up to
   * `timeoutMs` (default 5000), drops the rest (`close_timeout`) and releases the socket and
   * connection. Resolves with the final counts. Calling it again returns the same counts.
   */
  close(timeoutMs?: number): Promise<ClientStats>;
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`createClient: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** `host:port`, `[v6]:port` → parts; throws on anything else. */
function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw new TypeError(`createClient: udp must be "host:port" (or "[v6]:port"), got ${JSON.stringify(text)}`);
  return { host: (m[1] ?? m[2]) as string, port };
}

function defaultProducer(): string {
  return `${hostname().slice(0, 64)}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

class EventClient implements LogsrvClient {
  readonly transport: 'udp' | 'http';
  readonly udpAddress: string | null;
  readonly url: string;
  private readonly acct: EventAccounting;
  private readonly defaults: EventDefaults | undefined;
  private readonly maxEventBytes: number;
  private readonly maxBufferBytes: number;
  private readonly maxDatagramBytes: number;
  private readonly udp: UdpSender | null;
  private readonly http: EventHttpSender;
  private closing: Promise<ClientStats> | null = null;

  constructor(opts: ClientOptions) {
    const transport = opts.transport ?? 'udp';
    if (transport !== 'udp' && transport !== 'http') throw new TypeError(`createClient: transport must be 'udp' or 'http', got ${JSON.stringify(transport)}`);
    this.transport = transport;
    const url = opts.url ?? process.env.LOGSRV_SERVER ?? 'http://127.0.0.1:7070';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`createClient: url must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new TypeError(`createClient: url must be http:// or https://, got ${JSON.stringify(url)}`);
    this.maxDatagramBytes = intOption('maxDatagramBytes', opts.maxDatagramBytes, 8 * KiB, 512, MAX_UDP_PAYLOAD_BYTES);
    this.maxEventBytes = intOption('maxEventBytes', opts.maxEventBytes, MiB, 64, 1024 * MiB);
    this.maxBufferBytes = intOption('maxBufferBytes', opts.maxBufferBytes, 4 * MiB, 1024, 2 ** 40);
    if (opts.onError !== undefined && typeof opts.onError !== 'function') throw new TypeError('createClient: onError must be a function');
    this.acct = new EventAccounting(opts.onError);
    this.defaults = opts.defaults;

    this.http = new EventHttpSender({
      url,
      token: opts.token ?? process.env.LOGSRV_TOKEN,
      producer: opts.producer ?? defaultProducer(),
      maxBatchBytes: intOption('maxBatchBytes', opts.maxBatchBytes, 256 * KiB, 1024, 1024 * MiB),
      requestTimeoutMs: intOption('requestTimeoutMs', opts.requestTimeoutMs, 10_000, 1, 3_600_000),
      retryMinMs: intOption('retryMinMs', opts.retryMinMs, 100, 1, 3_600_000),
      retryMaxMs: intOption('retryMaxMs', opts.retryMaxMs, 5000, 1, 3_600_000),
      acct: this.acct,
    });
    this.url = this.http.url;

    if (transport === 'udp') {
      let target: { host: string; port: number };
      if (opts.udp !== undefined) target = parseHostPort(opts.udp);
      else {
        const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
        target = { host, port: intOption('udpPort', opts.udpPort, 7071, 1, 65535) };
      }
      this.udp = new UdpSender({ ...target, maxDatagramBytes: this.maxDatagramBytes, acct: this.acct });
      this.udpAddress = isIPv6(target.host) ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
    } else {
      this.udp = null;
      this.udpAddress = null;
    }
  }

  event(event: ClientEvent): void {
    const acct = this.acct;
    acct.events++;
    try {
      if (this.closing) {
        acct.reject('closed', 'event() after close()', event);
        return;
      }
      const enc = encodeEvent(event, this.defaults, this.maxEventBytes);
      if ('reason' in enc) {
        acct.reject(enc.reason, enc.message, event);
        return;
      }
      if (acct.queuedBytes + enc.bytes > this.maxBufferBytes) {
        acct.reject(
          'buffer_full',
          `${formatBytes(acct.queuedBytes)} of events already waiting, limit ${formatBytes(this.maxBufferBytes)} (maxBufferBytes)`,
          event,
        );
        return;
      }
      if (this.udp && enc.bytes <= this.maxDatagramBytes) {
        this.udp.push(enc.json, enc.bytes);
        return;
      }
      if (this.udp) acct.httpFallback++;
      this.http.push(enc.json, enc.bytes, enc.ownProducer);
    } catch (err) {
      acct.reject('internal', `event client failed: ${err instanceof Error ? err.message : String(err)}`, event);
    }
  }

  stats(): ClientStats {
    return this.acct.snapshot();
  }

  async flush(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + Math.max(0, timeoutMs);
    const done = await Promise.all([this.udp?.flush(deadline) ?? true, this.http.flush(deadline)]);
    return done[0] && done[1];
  }

  close(timeoutMs = 5000): Promise<ClientStats> {
    if (!this.closing) {
      const deadline = Date.now() + Math.max(0, timeoutMs);
      this.closing = Promise.all([this.udp?.close(deadline), this.http.close(deadline)]).then(
        () => this.acct.snapshot(),
        () => this.acct.snapshot(),
      );
    }
    return this.closing;
  }
}

/** A client for application events; see {@link LogsrvClient} and docs/sdk.md. Throws only for invalid options. */
export function createClient(options: ClientOptions = {}): LogsrvClient {
  return new EventClient(options);
}
