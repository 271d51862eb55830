/** Summary statistics for benchmark samples. */

/** Median of `values` (NaN for none); NaN samples are ignored. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Largest of `values` (NaN for none); NaN samples are ignored. */
export function max(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? Number.NaN : Math.max(...v);
}
