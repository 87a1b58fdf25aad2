// Prints LINES lines of LINE_BYTES bytes (newline included) to stdout as fast as the reader takes
// them, in ~64 KiB writes; then appends `<start ns> <end ns>` (monotonic clock, comparable across
// processes) to DONE_FILE, so the benchmark knows when the command itself started and ended.
// Usage: node bulk-writer.mjs LINES LINE_BYTES DONE_FILE
import { appendFileSync, writeSync } from 'node:fs';

const started = process.hrtime.bigint();
const lines = Number(process.argv[2]);
const lineBytes = Number(process.argv[3]);
const doneFile = process.argv[4];
const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(Math.ceil(lineBytes / 37));
let chunk = '';
for (let i = 0; i < lines; i++) {
  const head = `line ${i} `;
  chunk += `${head}${filler.slice(0, lineBytes - 1 - head.length)}\n`;
  if (chunk.length >= 65536) {
    writeSync(1, chunk);
    chunk = '';
  }
}
if (chunk) writeSync(1, chunk);
appendFileSync(doneFile, `${started} ${process.hrtime.bigint()}\n`);
