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

/** A comma-separated list of numbers ≥ `min` (BENCH_*), or `fallback` when unset; anything else is an error. */
export function envNumbers(name: string, fallback: readonly number[], min: number): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...fallback];
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isFinite(n) || n < min)) throw new Error(`${name}=${raw}: must be comma-separated numbers, each ≥ ${min}`);
  return list;
}

/** One of `choices` (BENCH_*), the first when unset; anything else is an error. */
export function envChoice<T extends string>(name: string, choices: readonly [T, ...T[]]): T {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return choices[0];
  if (!(choices as readonly string[]).includes(raw)) throw new Error(`${name}=${raw}: one of ${choices.join(', ')}`);
  return raw as T;
}
