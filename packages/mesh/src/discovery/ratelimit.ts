/**
 * Per-client-IP token bucket (kubespan.md §1.3: 15 req/s, burst 60, applied to unary and stream
 * RPCs). Like a reservation-based limiter, a request may wait for a token that becomes free within
 * `maxWaitMs`; one that would wait longer is refused (RESOURCE_EXHAUSTED) and consumes nothing.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxWaitMs: number,
    private readonly now: () => number,
    /** Idle buckets are dropped once this many exist, so spoofed-IP floods stay bounded. */
    private readonly bucketsMax = 100_000,
  ) {}

  /** Milliseconds the caller must wait before proceeding, or `undefined` when refused. */
  reserve(key: string): number | undefined {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.bucketsMax) this.gc();
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    }
    this.refill(bucket, now);
    const waitMs = bucket.tokens >= 1 ? 0 : ((1 - bucket.tokens) / this.perSecond) * 1000;
    if (waitMs > this.maxWaitMs) return undefined;
    bucket.tokens -= 1;
    return waitMs;
  }

  /** Forget buckets that have refilled completely: they behave exactly like new ones. */
  gc(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.burst) this.buckets.delete(key);
    }
  }

  get size(): number {
    return this.buckets.size;
  }

  private refill(bucket: { tokens: number; at: number }, now: number): void {
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed * this.perSecond) / 1000);
    bucket.at = now;
  }
}
