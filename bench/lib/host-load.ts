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

/** CPU time (user + system, ms) a process has used, all its threads together. */
/**
 * Page faults of a process so far: `major` ones waited for the disk (the page was not in the page
 * cache), `minor` ones only mapped a cached page. Linux /proc only; zeros when gone.
 */
export function processFaults(pid: number): { minor: number; major: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { minor: Number(f[7]), major: Number(f[9]) };
  } catch {
    return { minor: 0, major: 0 };
  }
}

export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}
