/**
 * How busy the machine was with work that is not ours. This machine is shared, so a figure means
 * little without knowing how much CPU other processes took while it was measured. Linux /proc only;
 * elsewhere every reading is 0.
 */
import { readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU time all processes spent busy since boot, summed over cores (ms). */
export function hostBusyMs(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] as string;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const f = cpu.trim().split(/\s+/).slice(1).map(Number);
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) * TICK_MS;
  } catch {
    return 0;
  }
}

/** The fields of /proc/PID/stat after the command name (field 3, the state, first); null when gone. */
function procStat(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * Major page faults of a process so far: those that waited for the disk (the page was not in the
 * page cache). 0 when gone.
 */
export function processMajorFaults(pid: number): number {
  const f = procStat(pid);
  return f ? Number(f[9]) : 0;
}

/** CPU time (user + system, ms) a process has used, all its threads together. */
export function processCpuMs(pid: number): number {
  const f = procStat(pid);
  return f ? (Number(f[11]) + Number(f[12])) * TICK_MS : 0;
}
