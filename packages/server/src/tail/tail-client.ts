/**
 * One SSE connection of a live tail. Owned by the {@link TailHub} from `attach` until its
 * response closes; the tail route drives its history phase, the hub its live phase.
 *
 * States: `history` — the route is sending stored events; live chunks from the hub are kept in a
 * bounded buffer. `live` — chunks are written as they come; if the socket's unsent bytes would
 * pass the limit the client is told `lagged` and closed. `closed` — nothing more is written.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { EventId } from '@logsrv/protocol';
import { compareIds } from '@logsrv/protocol';
import { controlFrame, HEARTBEAT } from './sse.js';

/**
 * The frames one subscription produced in one hub flush. Shared, read-only, by every client of
 * the subscription: the bytes are encoded once and the same Buffer is written to each socket.
 */
export interface Chunk {
  /** All frames, concatenated and encoded. May be empty when only `end` is carried. */
  buf: Buffer;
  /** Id of each frame, ascending. */
  ids: EventId[];
  frames: string[];
  /** Id text of the last frame, or null when there is none. */
  lastId: string | null;
  /** The session ended at this event id: the chunk holds nothing after it, and the tail ends. */
  end: string | null;
}

export interface ClientOwner {
  /** The client takes no more events (it finished, or its peer left). */
  unsubscribe(client: TailClient): void;
  /** The client's response has closed: its socket and buffers are gone. */
  release(client: TailClient): void;
  lagged(): void;
}

/**
 * How long a closed stream may keep unsent bytes before its socket is destroyed. A lagged client
 * gets long enough to read its backlog and the `lagged` frame after a stall; at shutdown the
 * server does not wait that long (clients resume by their last id either way).
 */
const LAGGED_GRACE_MS = 15_000;
/** Heartbeat ticks in a row without the socket taking a byte (while bytes wait) that make a stall. */
const STALL_TICKS = 2;
const SHUTDOWN_GRACE_MS = 1000;

export class TailClient {
  state: 'history' | 'live' | 'closed' = 'history';
  /** Id of the last event frame written to the socket (not necessarily received yet). */
  lastSent: string | null;
  /** Resolves when the response has closed (ended, or the peer went away). */
  readonly done: Promise<void>;
  /** The hub's subscription this client hangs on. */
  sub: unknown = null;
  private pending: Chunk[] = [];
  private pendingBytes = 0;
  private overflowUntil: EventId | null = null;
  private destroyTimer: NodeJS.Timeout | null = null;
  /** The last history write was not taken whole: wait for 'drain' before the next page. */
  private historyFull = false;
  /** 'drain' events seen, and the stall check's view at the previous heartbeat. */
  private drains = 0;
  private lastDrains = 0;
  private lastQueued = 0;
  private stallTicks = 0;
  /**
   * Live frames go to the socket itself, skipping ServerResponse's per-write bookkeeping (about
   * half the cost of a write here, and fan-out is writes). Safe because the response is not
   * chunked and its headers and preamble went out before the client was attached, so bytes
   * written either way reach the socket in order. Null when the response has no socket of its own.
   */
  private readonly sock: Socket | null;

  constructor(
    private readonly res: ServerResponse,
    private readonly owner: ClientOwner,
    private readonly limitBytes: number,
    cursor: string | null,
  ) {
    this.lastSent = cursor;
    this.sock = res.headersSent && !res.useChunkedEncodingByDefault && res.socket ? res.socket : null;
    const drained = () => {
      this.drains++;
    };
    res.on('drain', drained);
    this.sock?.on('drain', drained);
    res.once('close', () => this.sock?.off('drain', drained));
    this.done = new Promise((resolve) => {
      res.once('close', () => {
        if (this.destroyTimer) clearTimeout(this.destroyTimer);
        if (this.state !== 'closed') {
          this.state = 'closed';
          this.owner.unsubscribe(this);
        }
        this.owner.release(this);
        resolve();
      });
    });
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /**
   * A chunk from the hub. `upTo` is the hub's watermark after the flush that made it: every
   * event up to it is committed. A history-phase client whose buffer overflows drops the buffer
   * and remembers `upTo`; the route then reads those events from the store instead — a client
   * catching up on a long history is never failed for live events piling up meanwhile.
   */
  deliver(chunk: Chunk, upTo: EventId): void {
    if (this.state === 'closed') return;
    if (this.state === 'history') {
      if (this.overflowUntil !== null) {
        this.overflowUntil = upTo;
        return;
      }
      this.pending.push(chunk);
      this.pendingBytes += chunk.buf.length;
      if (this.pendingBytes > this.limitBytes) {
        this.pending = [];
        this.pendingBytes = 0;
        this.overflowUntil = upTo;
      }
      return;
    }
    if (chunk.buf.length > 0) {
      const queued = this.res.writableLength;
      if (queued > 0 && queued + chunk.buf.length > this.limitBytes) {
        this.lag(queued);
        return;
      }
      if (this.sock) this.sock.write(chunk.buf);
      else this.res.write(chunk.buf);
      this.lastSent = chunk.lastId;
    }
    if (chunk.end !== null) this.end(chunk.end);
  }

  /** Takes the id the route must read history up to after a buffer overflow (null: none). */
  takeOverflow(): EventId | null {
    const u = this.overflowUntil;
    this.overflowUntil = null;
    return u;
  }

  /** Writes stored events (history phase); {@link historyDrained} then waits for the socket. */
  writeHistory(text: string, lastId: string): void {
    if (this.state === 'closed') return;
    this.lastSent = lastId;
    this.historyFull = !this.res.write(text);
  }

  /**
   * Resolves once the socket took the last history page, so a slow reader slows its own history
   * read and nothing else (a stalled one is lagged by {@link heartbeat}). False when the client
   * is gone.
   */
  async historyDrained(): Promise<boolean> {
    if (this.historyFull && this.state !== 'closed') {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off('drain', done);
          this.res.off('close', done);
          resolve();
        };
        this.res.on('drain', done);
        this.res.on('close', done);
      });
      this.historyFull = false;
    }
    return !this.closed;
  }

  /**
   * Ends the history phase: writes the buffered live events after `covered` (the id up to which
   * history was sent), then follows live. Buffered chunks all follow the watermark history was
   * read to, so normally each is written whole; only a cursor past that watermark cuts one.
   */
  goLive(covered: EventId | null): void {
    if (this.state !== 'history') return;
    const parts: Buffer[] = [];
    let endAt: string | null = null;
    for (const c of this.pending) {
      const firstId = c.ids[0];
      if (covered === null || firstId === undefined || compareIds(firstId, covered) > 0) {
        if (c.buf.length > 0) {
          parts.push(c.buf);
          this.lastSent = c.lastId;
        }
      } else {
        let text = '';
        for (let i = 0; i < c.ids.length; i++) {
          if (compareIds(c.ids[i] as EventId, covered) > 0) {
            text += c.frames[i];
            this.lastSent = `${(c.ids[i] as EventId).ms}-${(c.ids[i] as EventId).seq}`;
          }
        }
        if (text) parts.push(Buffer.from(text));
      }
      if (c.end !== null) {
        endAt = c.end;
        break;
      }
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.state = 'live';
    if (parts.length > 0) this.res.write(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
    if (endAt !== null) this.end(endAt);
  }

  /**
   * Called every heartbeat interval. A comment frame on an idle stream; and the stall check: a
   * client whose socket took nothing since the previous tick while bytes wait for it (in history
   * or live) is stalled, and at the second such tick in a row it is told `lagged` and closed —
   * its buffer is freed instead of held for a peer that may never read again.
   */
  heartbeat(): void {
    const queued = this.res.writableLength;
    if (this.state === 'closed') {
      // Finished (lagged, ended) but its peer does not read the rest: once it has taken nothing
      // for as long again, the connection goes (the peer sees the stream end, not `lagged`).
      if (!this.res.closed && queued > 0 && this.stalled(queued)) this.res.destroy();
      return;
    }
    if (queued === 0) {
      this.stallTicks = 0;
      this.lastQueued = 0;
      this.res.write(HEARTBEAT);
      return;
    }
    if (this.stalled(queued)) this.lag(queued, 'took no bytes for two heartbeat intervals (--tail-heartbeat-ms)');
  }

  /** One tick of the stall check; true at the STALL_TICKS-th tick in a row without progress. */
  private stalled(queued: number): boolean {
    const progressed = this.drains !== this.lastDrains || queued < this.lastQueued;
    this.lastDrains = this.drains;
    this.lastQueued = queued;
    if (progressed) {
      this.stallTicks = 0;
      return false;
    }
    return ++this.stallTicks >= STALL_TICKS;
  }

  /** The session ended at event `id`: `event: end`, then close. */
  end(id: string): void {
    this.finish(controlFrame('end', { id }));
  }

  /** Something failed after the stream started: `event: error` with the reason, then close. */
  fail(code: string, message: string): void {
    this.finish(controlFrame('error', { code, message }));
  }

  /** Server shutdown: close; clients reconnect with their last id once it is back. */
  shutdown(): void {
    if (this.state !== 'closed') this.finish(': server shutting down\n\n', SHUTDOWN_GRACE_MS);
    else if (!this.res.closed) {
      // Already finished (lagged, ended) but its peer has not read the rest: stop waiting for it.
      if (this.destroyTimer) clearTimeout(this.destroyTimer);
      this.destroyTimer = setTimeout(() => this.res.destroy(), SHUTDOWN_GRACE_MS);
      this.destroyTimer.unref();
    }
  }

  private lag(queued: number, why?: string): void {
    this.owner.lagged();
    this.finish(
      controlFrame('lagged', {
        lastId: this.lastSent,
        message: why
          ? `client stalled: ${queued} bytes not yet taken and the socket ${why}; resume after lastId`
          : `client too slow: ${queued} bytes not yet taken, limit ${this.limitBytes} (--tail-client-buffer-bytes); resume after lastId`,
      }),
    );
  }

  private finish(lastFrame: string, graceMs = LAGGED_GRACE_MS): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    this.stallTicks = 0; // the grace for reading the rest starts now
    this.owner.unsubscribe(this);
    this.res.end(lastFrame);
    // A peer that stopped reading would hold the socket (and its buffer) forever.
    this.destroyTimer = setTimeout(() => this.res.destroy(), graceMs);
    this.destroyTimer.unref();
  }
}
