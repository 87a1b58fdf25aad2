/**
 * Counts events a sender took and events it finished with (sent or dropped), so `flush()` can wait
 * for exactly the events queued before it was called — later events do not keep it waiting.
 * Senders handle events in the order they took them, so "settled ≥ pushed at the call" means
 * everything queued before the call is done.
 */
export class SettleTracker {
  pushed = 0;
  settled = 0;
  private waiters: { target: number; resolve: (done: boolean) => void; timer: NodeJS.Timeout }[] = [];

  settle(count: number): void {
    this.settled += count;
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.settled >= w.target) {
        clearTimeout(w.timer);
        w.resolve(true);
      } else still.push(w);
    }
    this.waiters = still;
  }

  /** True once every event pushed so far is settled; false if `deadline` (epoch ms) comes first. */
  waitForPushed(deadline: number): Promise<boolean> {
    const target = this.pushed;
    if (this.settled >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        target,
        resolve,
        // Referenced on purpose: whoever awaits a flush expects it to resolve before the process exits.
        timer: setTimeout(
          () => {
            this.waiters = this.waiters.filter((x) => x !== w);
            resolve(false);
          },
          Math.max(0, deadline - Date.now()),
        ),
      };
      this.waiters.push(w);
    });
  }
}
