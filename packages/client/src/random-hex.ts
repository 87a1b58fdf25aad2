/**
 * Random hex for ids (a producer's, a generated session's), without `node:crypto` when the
 * system has /dev/urandom: loading crypto pulls ~17 internal modules, several ms of every
 * agent's start-up, which is time added to the command it runs. Same source as
 * crypto.randomBytes on Linux and macOS; crypto where the device is missing.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

const requireBuiltin = createRequire(import.meta.url);

export function randomHex(bytes: number): string {
  const b = Buffer.alloc(bytes);
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      let got = 0;
      while (got < bytes) {
        const n = readSync(fd, b, got, bytes - got, null);
        if (n <= 0) throw new Error('/dev/urandom: short read');
        got += n;
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    const crypto = requireBuiltin('node:crypto') as typeof import('node:crypto');
    crypto.randomFillSync(b);
  }
  return b.toString('hex');
}
