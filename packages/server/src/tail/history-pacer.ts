/**
 * Paces the history phase of every tail together, as the hub paces live fan-out.
 *
 * Replaying stored events costs the receiving thread: a page read from a reader thread is copied
 * in, each event is serialized into a frame, the frames are written to a socket. Fifty tails
 * replaying a large session into sockets that do not read could otherwise keep this thread busy
 * for seconds, and ingest — answered on the same thread — waits behind them.
 *
 * Contract: `turn(work)` runs `work` when no other history page is being handled, and not before
 * a gap of {@link GAP_FACTOR} × the receiving-thread time the previous page took. So history
 * replay takes at most ~1/(1+GAP_FACTOR) of the thread however many tails replay; a lone tail on
 * an idle server still gets a page per turn of the event loop or so. Waiting for a socket to take
 * the bytes happens outside a turn: a stalled client never holds up the others.
 */

/** After a page that took C ms of this thread, the next one waits C × GAP_FACTOR ms. */
const GAP_FACTOR = 2;

export class HistoryPacer {
  private tail: Promise<void> = Promise.resolve();
  private nextAt = 0;

  /**
   * Runs `work` in its turn. `work` reads (asynchronously, off this thread), then calls `busy()`
   * once it starts the part that costs this thread (framing, writing); that part is timed.
   */
  turn<T>(work: (busy: () => void) => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => {
      const wait = this.nextAt - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else await new Promise((r) => setImmediate(r)); // let I/O (ingest) in between pages
      let started = -1;
      try {
        return await work(() => {
          started = performance.now();
        });
      } finally {
        const end = performance.now();
        this.nextAt = started < 0 ? end : end + (end - started) * GAP_FACTOR;
      }
    });
    this.tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }
}
