/**
 * The native UDP reader (`native/udp_recv.c`, built by node-gyp into `build/Release` when the
 * package is installed): a reading thread of its own with Linux `recvmmsg`, many datagrams per
 * system call, into a ring, and one JavaScript call per batch, where node:dgram makes a system
 * call, a buffer, an address object and a callback per datagram. Missing (not built, not Linux)
 * means `null`, and the receive thread uses node:dgram.
 */
import { createRequire } from 'node:module';

export interface NativeUdp {
  supported: true;
  /**
   * Binds a socket and starts its reading thread (asking for a time slice of `sliceNs`, 0: the
   * default), which moves datagrams into a ring of `ringBytes` (at least two of the largest datagrams); `onBatch(n)` gets the slots filled
   * from it (see the C file for the layout).
   */
  open(
    v6: boolean,
    host: string,
    port: number,
    recvBufferBytes: number,
    slotBytes: number,
    data: Uint8Array,
    lens: Int32Array,
    addrs: Uint8Array,
    onBatch: (n: number) => void,
    ringBytes: number,
    sliceNs: number,
  ): NativeReader;
  /** Datagrams read but dropped because the ring was full, since the last call. */
  takeDrops(r: NativeReader): number;
  localPort(r: NativeReader): number;
  /** SO_RCVBUF as Linux reports it: twice what it grants. */
  recvBufferSize(r: NativeReader): number;
  /**
   * Stops reading (the reading thread reads what the socket still holds first), closes the socket,
   * and hands what the ring holds to `onBatch` before it returns; idempotent.
   */
  close(r: NativeReader): void;
  /** The source address of a slot as text, as node:dgram writes it. */
  formatAddress(addrs: Uint8Array, slot: number): string;
}

declare const readerBrand: unique symbol;
export type NativeReader = { readonly [readerBrand]: true };

/** Bytes per slot of the address table. */
export const ADDR_BYTES = 20;

let loaded: { native: NativeUdp | null; why: string } | undefined;

/** The addon, or null when it is not built or not supported here; `why` says which. */
export function loadNativeUdp(): { native: NativeUdp | null; why: string } {
  if (loaded) return loaded;
  try {
    const m = createRequire(import.meta.url)('../../build/Release/udp_recv.node') as NativeUdp | { supported: false };
    loaded = m.supported ? { native: m, why: '' } : { native: null, why: `recvmmsg is not available on ${process.platform}` };
  } catch (err) {
    loaded = { native: null, why: `the native UDP reader is not built (${(err as Error).message.split('\n')[0]})` };
  }
  return loaded;
}
