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
 * A session page from the chunks is written into its slot as it is read (SlotWriter), so that
 * none of its ~3 MB outlives the chunk it came from in the reader's heap (read-session-chunks.ts).
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
  private readonly bytes: Buffer;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.state = new Int32Array(buffer, 0, SLAB_SLOTS);
    this.bytes = Buffer.from(buffer, 64);
  }

  static create(): PageSlab {
    return new PageSlab(new SharedArrayBuffer(64 + SLAB_SLOTS * SLAB_SLOT_BYTES));
  }

  /**
   * Reader: copies `parts` into a free slot; its number, or -1 (none free, or too large). A string
   * part must be ASCII only (one byte a character); one that is not throws, the slot left free.
   */
  put(parts: (Uint8Array | string)[]): number {
    let total = 0;
    for (const p of parts) total += typeof p === 'string' ? p.length : p.byteLength;
    if (total > SLAB_SLOT_BYTES) return -1;
    const w = this.writer();
    if (!w) return -1;
    try {
      for (const p of parts) w.write(p);
    } catch (err) {
      w.abort();
      throw err;
    }
    return w.slot;
  }

  /** Reader: a free slot to write a page into part by part, or null when none is free. */
  writer(): SlotWriter | null {
    for (let slot = 0; slot < SLAB_SLOTS; slot++) {
      if (Atomics.compareExchange(this.state, slot, FREE, TAKEN) === FREE) return new SlotWriter(this.state, this.bytes, slot);
    }
    return null;
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

/** A taken slot, written in order; the reader hands over `slot` and `length`, or aborts. */
export class SlotWriter {
  /** Bytes written so far. */
  length = 0;

  constructor(
    private readonly state: Int32Array,
    private readonly bytes: Buffer,
    readonly slot: number,
  ) {}

  /**
   * Appends `part`; false, with nothing written, when it does not fit in what is left of the slot.
   * A string must be ASCII only (one byte a character): one that is not throws.
   */
  write(part: Uint8Array | string): boolean {
    const at = this.slot * SLAB_SLOT_BYTES + this.length;
    if (typeof part === 'string') {
      if (this.length + part.length > SLAB_SLOT_BYTES) return false;
      assertAscii(part);
      this.length += this.bytes.write(part, at, part.length, 'latin1');
      return true;
    }
    if (this.length + part.byteLength > SLAB_SLOT_BYTES) return false;
    this.bytes.set(part, at);
    this.length += part.byteLength;
    return true;
  }

  /** Frees the slot unused (an error, or a page larger than a slot). */
  abort(): void {
    Atomics.store(this.state, this.slot, FREE);
  }
}

/** Page parts given as strings must be ASCII only (one byte a character, written as latin1). */
export function assertAscii(part: string): void {
  // A character outside ASCII takes more than one byte in UTF-8.
  if (Buffer.byteLength(part, 'utf8') !== part.length) throw new Error('a string part of a page that is not ASCII');
}
