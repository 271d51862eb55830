/**
 * Running a benchmark.js suite and reporting it, shared by the micro-benchmarks.
 */
import type Benchmark from "benchmark";

export interface BenchResult {
  name: string;
  hz: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface RunOptions {
  /** Seconds per benchmark (benchmark.js `maxTime`). */
  maxTime?: number;
  /**
   * "median": ops/s = 1 / median per-op sample time (robust to GC pauses and a noisy machine);
   * "mean": benchmark.js's own hz.
   */
  rate?: "median" | "mean";
}

/** Runs `suite` and resolves with one ops/s figure per benchmark. */
export function runSuite(suite: Benchmark.Suite, opts: RunOptions = {}): Promise<BenchResult[]> {
  const rate = opts.rate ?? "median";
  return new Promise((resolve, reject) => {
    suite.on("complete", function (this: Benchmark.Suite) {
      const results: BenchResult[] = [];
      this.forEach((b: Benchmark) => {
        const hz = rate === "median" ? 1 / median(b.stats.sample) : b.hz;
        results.push({ name: String(b.name), hz });
      });
      resolve(results);
    });
    suite.on("error", (e: Benchmark.Event) =>
      reject(new Error(`benchmark failed: ${String(e.target.name)}`)),
    );
    suite.run(
      opts.maxTime === undefined ? { async: true } : { async: true, maxTime: opts.maxTime },
    );
  });
}

/** Prints results as a table of ops/s (for running a micro-benchmark file directly). */
export function printResults(results: readonly BenchResult[]): void {
  console.table(
    results.map((r) => ({ name: r.name, "ops/s": Math.round(r.hz).toLocaleString("en") })),
  );
}
