/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): a < b iff (a − b) as int32 < 0.
 * Used for sequence numbers, acknowledgments and timestamps alike.
 */

/** a + n mod 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance b − a (valid when |b − a| < 2^31). */
export function seqDiff(b: number, a: number): number {
  return (b - a) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b;
}

export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b;
}
