/**
 * Shared memory for large page bodies on their way from a reader thread to the socket: a few
 * fixed slots in one SharedArrayBuffer per reader, allocated once.
 *
 * Why: a 10,000-event page is a few MB. Moved across as ArrayBuffers of its own, every page was
 * new external memory on the main thread, and V8 answered it with a full mark-compact of the main
 * heap every few pages (seen with --trace-gc: 27–140 ms pauses every 1–3 s of session reads, on the
 * thread that serves every socket). A slot is memory the main thread already has: the reader copies
 * the page's parts into it (a copy into memory that is already mapped costs ~0.1 ms for 3 MB), the
 * main thread writes a view of it to the socket and frees the slot when the response is closed.
 *
 * States (Int32, one per slot): FREE, then TAKEN by the reader (compareExchange), FREE again by the
 * main thread after the response has been written or aborted. When no slot is free or the page is
 * larger than a slot, the reader moves the parts themselves (worker-rpc.ts transferWith).
 */
export const SLAB_SLOTS = 2;
/** A slot holds a 10,000-event page of events of ~330 B of JSON each; larger pages go the other way. */
export const SLAB_SLOT_BYTES = 4 * 1024 * 1024;

const FREE = 0;
const TAKEN = 1;

export class PageSlab {
  private readonly state: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.state = new Int32Array(buffer, 0, SLAB_SLOTS);
    this.bytes = new Uint8Array(buffer, 64);
  }

  static create(): PageSlab {
    return new PageSlab(new SharedArrayBuffer(64 + SLAB_SLOTS * SLAB_SLOT_BYTES));
  }

  /** Reader: copies `parts` into a free slot; its number, or -1 (none free, or too large). */
  put(parts: Uint8Array[]): number {
    let total = 0;
    for (const p of parts) total += p.byteLength;
    if (total > SLAB_SLOT_BYTES) return -1;
    for (let slot = 0; slot < SLAB_SLOTS; slot++) {
      if (Atomics.compareExchange(this.state, slot, FREE, TAKEN) !== FREE) continue;
      let at = slot * SLAB_SLOT_BYTES;
      for (const p of parts) {
        this.bytes.set(p, at);
        at += p.byteLength;
      }
      return slot;
    }
    return -1;
  }

  /** Main thread: the bytes of a slot (a view, valid until {@link release}). */
  view(slot: number, length: number): Buffer {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + slot * SLAB_SLOT_BYTES, length);
  }

  /** Main thread: the slot's bytes are written (or will never be): the reader may reuse it. */
  release(slot: number): void {
    Atomics.store(this.state, slot, FREE);
  }
}
