/**
 * The contract between `bench/run.ts` and each benchmark. A benchmark measures its figures (each
 * repeated `reps` times) and a baseline in the same run; the runner prints, stores and tabulates.
 */

/** One measured quantity: every repetition's value and their median. */
export interface Measurement {
  label: string;
  unit: string;
  median: number;
  runs: number[];
}

export interface Target {
  /** `≥0.8× baseline`, `≥100,000 events/s`. */
  text: string;
  met: boolean;
}

/** A figure of the product, optionally set against a baseline measured in the same run. */
export interface Figure extends Measurement {
  /** The workload variant, e.g. `1000 events/request`. */
  case: string;
  baseline?: Measurement;
  /** `median / baseline.median`, when there is a baseline. */
  ratio?: number;
  /** What we aim for, printed beside the figure and never asserted, and whether the median met it. */
  targets?: Target[];
}

export interface BenchReport {
  figures: Figure[];
  /** Findings a reader needs to interpret the figures: CPU split, latencies, batch sizes. */
  notes: string[];
  /** The workload parameters, so a result file says what was measured. */
  params: Record<string, unknown>;
}

export interface BenchContext {
  /** Length of one timed repetition (env BENCH_SECONDS). */
  seconds: number;
  /** Repetitions per measurement, ≥ 3 (env BENCH_REPS); figures are their median. */
  reps: number;
  /** Absolute path of the repository root. */
  repoRoot: string;
  log(message: string): void;
}

export interface Benchmark {
  name: string;
  /** One sentence: what is measured, against what. */
  description: string;
  run(ctx: BenchContext): Promise<BenchReport>;
}

/** What `bench/results/<name>.json` holds. */
export interface ResultFile extends BenchReport {
  name: string;
  description: string;
  date: string;
  node: string;
  machine: string;
  commit: string;
  /**
   * Length of one repetition: BENCH_SECONDS, the benchmark's own, null when a repetition runs its
   * workload to the end, or a text when it differs by case (live-e2e: `15.5 s at 100 lines/s, …`).
   */
  seconds: number | null | string;
  reps: number;
  /** 1-, 5- and 15-minute load averages when the run started: this machine is shared. */
  loadAverage: number[];
}
