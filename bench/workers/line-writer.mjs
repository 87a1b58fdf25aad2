// Prints numbered lines at a fixed rate, each stamped with the monotonic clock at its write
// (process.hrtime is CLOCK_MONOTONIC: comparable across processes on one machine), so a reader
// in another process can tell each line's write → receipt latency.
// Usage: node line-writer.mjs RATE_PER_SEC SECONDS [FILE]   (stdout, or appended to FILE)
// Line: `<i> <hrtime ns> <padding to ~100 bytes>`. Lines due in the same 1 ms tick share a write.
import { openSync, writeSync } from 'node:fs';

const rate = Number(process.argv[2]);
const seconds = Number(process.argv[3]);
const file = process.argv[4];
const fd = file ? openSync(file, 'a') : 1;
const total = Math.round(rate * seconds);
const pad = 'x'.repeat(60);
const start = process.hrtime.bigint();
let written = 0;

function tick() {
  const now = process.hrtime.bigint();
  const due = Math.min(total, Math.floor((Number(now - start) / 1e9) * rate) + 1);
  if (due > written) {
    let text = '';
    for (; written < due; written++) text += `${written} ${now} ${pad}\n`;
    writeSync(fd, text);
  }
  if (written < total) setTimeout(tick, 1);
}
tick();
