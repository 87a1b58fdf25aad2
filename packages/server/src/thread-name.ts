/**
 * Names the calling thread for the operating system (Linux: `/proc/thread-self/comm`, at most 15
 * bytes), so `top -H`, `ps -L` and `/proc/<pid>/task/<tid>/comm` tell the server's threads apart:
 * `logsrv-writer`, `logsrv-index`, `logsrv-chunks`, `logsrv-ckpt`, `logsrv-reader`,
 * `logsrv-archive`, `logsrv-udp`, `logsrv-syslog`. The main thread keeps the process's own name
 * (it is what `ps` shows for the process); threads left as `node` are Node.js's and V8's own
 * (garbage collection, the file-system pool). Elsewhere it does nothing.
 */
import { writeFileSync } from 'node:fs';

export function nameThisThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // not Linux, or /proc not mounted: the thread keeps its name
  }
}
