/**
 * Day partitions are named `YYYYMMDD` (UTC); people write and read `YYYY-MM-DD`. No other imports:
 * the CLI parses `--before` with this before it loads anything heavy.
 */

/** `2026-11-05` → `20261105` when it is a real calendar date, else null. */
export function parseDay(text: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text ? `${m[1]}${m[2]}${m[3]}` : null;
}

/** `20261105` → `2026-11-05`. */
export function showDay(day: string): string {
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
}

/** Today's day name, UTC. */
export function today(nowMs = Date.now()): string {
  return new Date(nowMs).toISOString().slice(0, 10).replaceAll('-', '');
}
