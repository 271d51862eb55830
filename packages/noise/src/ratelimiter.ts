/**
 * Per-source token bucket for handshake messages under load (reference §1.1 "Per-source-IP
 * handshake rate limit"; kernel ratelimiter.c): 20 packets/s with a burst of 5. Tokens are
 * kept in milliseconds of "credit": each packet costs 1000/pps ms and the bucket holds at most
 * burst × cost. IPv6 sources are grouped by /64 as the kernel does, so one host cannot dodge
 * the limit by cycling its interface identifier. Time is injected (monotonic ms); idle entries
 * are collected about once a second from `allow` itself (an idle responder may never tick) or by
 * an explicit `gc`. Memory is bounded: when full, new sources are refused.
 */

/** WireGuard's limits (kernel `PACKETS_PER_SECOND`, `PACKETS_BURSTABLE`). */
export const PACKETS_PER_SECOND = 20;
export const PACKETS_BURSTABLE = 5;
/** Entries idle this long are dropped by `gc` (kernel and wireguard-go: 1 s). */
export const RATELIMITER_IDLE_MS = 1000;
const DEFAULT_MAX_ENTRIES = 65536;

interface Bucket {
  lastMs: number;
  tokens: number;
}

export class RateLimiter {
  private readonly cost: number;
  private readonly tokenMax: number;
  private readonly maxEntries: number;
  private readonly buckets = new Map<number | string, Bucket>();
  private lastGc = Number.NEGATIVE_INFINITY;

  constructor(opts: { packetsPerSecond?: number; burst?: number; maxEntries?: number } = {}) {
    const pps = opts.packetsPerSecond ?? PACKETS_PER_SECOND;
    const burst = opts.burst ?? PACKETS_BURSTABLE;
    const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!(pps > 0) || !(burst >= 1) || !Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new Error("RateLimiter: packetsPerSecond > 0, burst ≥ 1 and maxEntries ≥ 0 required");
    }
    this.cost = 1000 / pps;
    this.tokenMax = this.cost * burst;
    this.maxEntries = maxEntries;
  }

  /** Number of sources currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Charges one packet to `sourceIp` (4 or 16 bytes) at time `now` (ms); false means drop. */
  allow(sourceIp: Uint8Array, now: number): boolean {
    const key = sourceKey(sourceIp);
    if (key === undefined) return false;
    if (now - this.lastGc >= RATELIMITER_IDLE_MS) this.gc(now);
    const b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxEntries) return false;
      // A new source starts full and pays for this packet (kernel: TOKEN_MAX − PACKET_COST).
      this.buckets.set(key, { lastMs: now, tokens: this.tokenMax - this.cost });
      return true;
    }
    // Only forward time earns credit; a clock stepping back neither refills nor rewinds.
    if (now > b.lastMs) {
      b.tokens = Math.min(this.tokenMax, b.tokens + (now - b.lastMs));
      b.lastMs = now;
    }
    if (b.tokens < this.cost) return false;
    b.tokens -= this.cost;
    return true;
  }

  /** Drops entries idle for more than 1 s. */
  gc(now: number): void {
    this.lastGc = now;
    for (const [key, b] of this.buckets) {
      if (now - b.lastMs > RATELIMITER_IDLE_MS) this.buckets.delete(key);
    }
  }
}

/** IPv4: the whole address as a number. IPv6: the /64 as a string. Other lengths: none. */
function sourceKey(ip: Uint8Array): number | string | undefined {
  const word = (o: number) =>
    ((ip[o] << 24) | (ip[o + 1] << 16) | (ip[o + 2] << 8) | ip[o + 3]) >>> 0;
  if (ip.length === 4) return word(0);
  if (ip.length === 16) return `${word(0)}:${word(4)}`;
  return undefined;
}
