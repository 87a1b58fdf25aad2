/**
 * What the event client did with every event it was given: queued, sent, or dropped for a
 * reason. One instance per client, shared by its UDP and HTTP senders, so the invariant
 * `events = queued + sent + droppedTotal` holds at any moment and the buffer bound covers both.
 *
 * Not thread-safe and not meant to be: everything runs on the caller's event loop.
 */
import type { RejectReason } from '@logsrv/protocol';

/**
 * Why the client dropped an event. The validation reasons are the server's own (SPEC §1,
 * `RejectReasons`), so a drop means the same here as in `logsrv_dropped_total{reason}`; the others
 * are the client's:
 *
 * - `not_serializable` — JSON.stringify failed (a circular object, a BigInt, a throwing getter).
 * - `datagram_too_large` — over `maxDatagramBytes` with no HTTP fallback (no `url`).
 * - `buffer_full` — `maxBufferBytes` of events were already waiting (the server is slow or down).
 * - `send_error` — the OS refused a UDP datagram (its events are lost), or the address did not resolve.
 * - `unreachable` — a UDP datagram came back as ICMP port-unreachable: nothing listens at the
 *   address (counted from the socket's ECONNREFUSED reports; until one arrives they count as sent).
 * - `rejected` — the server answered that the event is invalid (HTTP only; UDP has no answer).
 * - `refused` — the server refused the token (HTTP 401/403).
 * - `closed` — `event()` after `close()`.
 * - `close_timeout` — still unsent when `close()` gave up waiting.
 * - `internal` — a bug in the client; reported rather than thrown into the caller.
 */
export type ClientDropReason =
  | RejectReason
  | 'not_serializable'
  | 'datagram_too_large'
  | 'buffer_full'
  | 'send_error'
  | 'unreachable'
  | 'rejected'
  | 'refused'
  | 'closed'
  | 'close_timeout'
  | 'internal';

/** What `onError` is told: one drop of `count` events. */
export interface ClientError {
  reason: ClientDropReason;
  /** A sentence naming the limit or the cause, e.g. "event is 70.1 KiB, limit 64 KiB (maxEventBytes)". */
  message: string;
  count: number;
  /** The input as given to `event()`, for drops decided before it was queued. */
  event?: unknown;
}

export interface ClientStats {
  /** Calls of `event()`. */
  events: number;
  /** Events accepted and not yet sent or dropped (in memory or in flight). */
  queued: number;
  /** Bytes of JSON those events hold: what `maxBufferBytes` bounds. */
  queuedBytes: number;
  /**
   * Events delivered as far as the client can know: UDP datagrams the OS accepted for sending
   * (the server may still drop them: see its `logsrv_dropped_total`), HTTP events the server
   * acknowledged after committing them.
   */
  sent: number;
  /** Of all events, those sent over HTTP because they did not fit a datagram (UDP transport). */
  httpFallback: number;
  /** Dropped events by reason; only reasons that occurred are present. */
  dropped: Partial<Record<ClientDropReason, number>>;
  droppedTotal: number;
}

export class EventAccounting {
  events = 0;
  queued = 0;
  queuedBytes = 0;
  sent = 0;
  httpFallback = 0;
  droppedTotal = 0;
  private readonly dropped = new Map<ClientDropReason, number>();
  private inOnError = false;

  constructor(private readonly onError: ((e: ClientError) => void) | undefined) {}

  /** An event was queued by a sender; it now owns `bytes` of the buffer. */
  enqueue(bytes: number): void {
    this.queued++;
    this.queuedBytes += bytes;
  }

  /** Queued events left for the network. */
  delivered(count: number, bytes: number): void {
    this.queued -= count;
    this.queuedBytes -= bytes;
    this.sent += count;
  }

  /** Events counted as sent turned out lost (a UDP datagram refused by the receiving host). */
  undeliver(reason: ClientDropReason, count: number, message: string): void {
    this.sent -= count;
    this.count(reason, count, message, false, undefined);
  }

  /** Queued events were dropped. */
  dropQueued(reason: ClientDropReason, count: number, bytes: number, message: string): void {
    this.queued -= count;
    this.queuedBytes -= bytes;
    this.count(reason, count, message, false, undefined);
  }

  /** An event was dropped before it was queued; `event` is the caller's input. */
  reject(reason: ClientDropReason, message: string, event: unknown): void {
    this.count(reason, 1, message, true, event);
  }

  /** A valid event a sender could not take (its address does not resolve, say). */
  dropUntaken(reason: ClientDropReason, message: string): void {
    this.count(reason, 1, message, false, undefined);
  }

  snapshot(): ClientStats {
    return {
      events: this.events,
      queued: this.queued,
      queuedBytes: this.queuedBytes,
      sent: this.sent,
      httpFallback: this.httpFallback,
      dropped: Object.fromEntries(this.dropped),
      droppedTotal: this.droppedTotal,
    };
  }

  private count(reason: ClientDropReason, count: number, message: string, withEvent: boolean, event: unknown): void {
    if (count <= 0) return;
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + count);
    this.droppedTotal += count;
    // A callback that itself makes drops (it calls event() with something invalid, say) is not
    // called again from inside itself: the drops are counted, the recursion is cut.
    if (!this.onError || this.inOnError) return;
    this.inOnError = true;
    try {
      this.onError(withEvent ? { reason, message, count, event } : { reason, message, count });
    } catch {
      // The caller's callback threw: never let it escape into event() or a socket callback.
    } finally {
      this.inOnError = false;
    }
  }
}
