/** A numeric knob from the environment (BENCH_*), or `fallback` when unset; anything else is an error. */
export function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${raw}: must be a number ≥ ${min}`);
  return n;
}

/** A comma-separated choice among `all` (BENCH_*), all of them when unset; anything else is an error. */
export function envList(name: string, all: readonly string[]): string[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...all];
  const picked = raw.split(',').map((x) => x.trim());
  const bad = picked.filter((x) => !all.includes(x));
  if (bad.length > 0 || picked.length === 0) throw new Error(`${name}=${raw}: must be a comma-separated list of ${all.join(', ')}`);
  return picked;
}
