/** A numeric knob from the environment (BENCH_*), or `fallback` when unset; anything else is an error. */
export function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}=${raw}: must be a number ≥ ${min}`);
  return n;
}
