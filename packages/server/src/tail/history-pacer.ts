/**
 * Paces the history phase of every tail together, as the hub paces live fan-out.
 *
 * Replaying stored events costs the receiving thread: a page read from a reader thread is copied
 * in, each event is serialized into a frame, the frames are written to a socket. Fifty tails
 * replaying a large session into sockets that do not read could otherwise keep this thread busy
 * for seconds, and ingest — answered on the same thread — waits behind them.
 *
 * Contract: `turn(work)` runs `work` in FIFO order, with at most {@link TURNS_IN_FLIGHT} turns
 * running at a time (so at most that many pages are in memory), and a turn starts no earlier than
 * a gap of {@link GAP_FACTOR} × the receiving-thread time of the pages before it. So history
 * replay takes at most ~1/(1+GAP_FACTOR) of the thread however many tails replay; a lone tail on
 * an idle server still gets a page per turn of the event loop or so. Waiting for a socket to take
 * the bytes happens outside a turn: a stalled client never holds up the others.
 */

import { Fifo } from '../queue/fifo.js';

/** After a page that took C ms of this thread, the next turn waits C × GAP_FACTOR ms. */
const GAP_FACTOR = 2;
/**
 * Turns running at once. A turn mostly waits for its read on a reader thread (a round trip of
 * 0.1–2 ms on a busy machine, even for an empty page); one turn at a time made 10,000 tails
 * opening on one session wait in line for 10–20 s before going live (tail-fanout delivery p50
 * 10–15 s). Several reads in flight keep the reader threads busy instead; the thread-costly part
 * of each page is still paced by the gap, and memory stays bounded by this many pages.
 */
const TURNS_IN_FLIGHT = 16;

export class HistoryPacer {
  private nextAt = 0;
  private running = 0;
  /** Turns waiting to start. */
  private readonly waiting = new Fifo<() => void>();
  private scheduled = false;

  constructor(private readonly inFlight = TURNS_IN_FLIGHT) {}

  /**
   * Runs `work` in its turn. `work` reads (asynchronously, off this thread), then calls `busy()`
   * once it starts the part that costs this thread (framing, writing); that part is timed.
   */
  async turn<T>(work: (busy: () => void) => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      this.waiting.push(start);
      this.pump();
    });
    let started = -1;
    try {
      return await work(() => {
        started = performance.now();
      });
    } finally {
      if (started >= 0) {
        const end = performance.now();
        const cost = end - started;
        // Busy parts of turns in flight may follow each other: their gaps add up.
        this.nextAt = Math.max(this.nextAt + cost * (1 + GAP_FACTOR), end + cost * GAP_FACTOR);
      }
      this.running--;
      this.pump();
    }
  }

  /** Starts the next waiting turn on a later turn of the event loop (I/O — ingest — goes first). */
  private pump(): void {
    if (this.scheduled || this.waiting.size === 0 || this.running >= this.inFlight) return;
    this.scheduled = true;
    const wait = this.nextAt - performance.now();
    if (wait > 0) setTimeout(this.startNext, wait);
    else setImmediate(this.startNext);
  }

  private readonly startNext = (): void => {
    this.scheduled = false;
    if (this.waiting.size === 0 || this.running >= this.inFlight) return;
    if (this.nextAt > performance.now()) {
      this.pump(); // a busy part ended meanwhile and moved the gap
      return;
    }
    const start = this.waiting.shift() as () => void;
    this.running++;
    start();
    this.pump();
  };
}
