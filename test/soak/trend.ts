/**
 * Trend statistics for the resource check: is a series (RSS, open descriptors) growing?
 *
 * - Mann–Kendall test (Mann 1945, Kendall 1975): S = Σ sign(x_j − x_i) over i < j; under "no
 *   trend" S is about normal with variance n(n−1)(2n+5)/18, less Σ t(t−1)(2t+5)/18 over groups
 *   of t tied values. A one-sided p-value for "increasing" comes from z with a continuity
 *   correction. Rank-based, so GC sawtooth and single spikes do not fool it.
 * - Theil–Sen slope (Sen 1968): the median of the pairwise slopes, robust to the same outliers;
 *   it says how much the series grows, where Mann–Kendall says whether it does.
 */

export interface Sample {
  /** Seconds. */
  readonly t: number;
  readonly v: number;
}

/** One-sided p-value that the series increases (small = significant growth). */
export function mannKendallIncreasingP(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 3) return 1;
  let s = 0;
  for (let i = 0; i < n - 1; i++) {
    for (let j = i + 1; j < n; j++) s += Math.sign(xs[j] - xs[i]);
  }
  const ties = new Map<number, number>();
  for (const x of xs) ties.set(x, (ties.get(x) ?? 0) + 1);
  let variance = n * (n - 1) * (2 * n + 5);
  for (const t of ties.values()) variance -= t * (t - 1) * (2 * t + 5);
  variance /= 18;
  if (variance <= 0 || s <= 0) return 1;
  const z = (s - 1) / Math.sqrt(variance);
  return 1 - normalCdf(z);
}

/** Theil–Sen slope, value units per second. */
export function senSlope(samples: readonly Sample[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < samples.length - 1; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const dt = samples[j].t - samples[i].t;
      if (dt > 0) slopes.push((samples[j].v - samples[i].v) / dt);
    }
  }
  return median(slopes);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf; error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
