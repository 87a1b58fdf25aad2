/** snappyjs ships no types: the two functions used here (snappy block format). */
declare module 'snappyjs' {
  /** Throws on a malformed stream, or when the uncompressed length exceeds `maxLength`. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  export function compress(uncompressed: Uint8Array): Uint8Array;
  const snappy: { uncompress: typeof uncompress; compress: typeof compress };
  export default snappy;
}
