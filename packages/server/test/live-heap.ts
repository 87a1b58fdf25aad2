/**
 * What survives a full collection of this thread's heap: tests that something keeps no reference
 * to memory it was handed measure this before and after. `--expose-gc` is set from here, so a test
 * file needs no flag of its own.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes of the heap in use after two full collections (the second catches what the first freed). */
export function liveHeapBytes(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
