/**
 * Discovery service limits. Values marked "reference" are the published limits of the Sidero
 * discovery service (kubespan.md §1.3, `pkg/limits/limits.go`); the others are wirespan's own
 * guards against hostile callers and are named as such.
 */
export interface DiscoveryLimits {
  /** reference `ClusterIDMax`: bytes of a cluster ID (also must be non-empty). */
  clusterIdMax: number;
  /** reference `AffiliateIDMax`: bytes of an affiliate ID (also must be non-empty). */
  affiliateIdMax: number;
  /** reference `AffiliateDataMax`: bytes of one encrypted affiliate data blob. */
  affiliateDataMax: number;
  /** reference `AffiliateEndpointMax`: bytes of one encrypted endpoint (IPv6 encrypts to 32). */
  affiliateEndpointMax: number;
  /** reference `AffiliateEndpointsMax`: endpoints stored per affiliate. */
  affiliateEndpointsMax: number;
  /** reference `ClusterAffiliatesMax`: affiliates per cluster. */
  clusterAffiliatesMax: number;
  /** reference `TTLMax` (30 min), in milliseconds. */
  ttlMaxMs: number;
  /** reference per-IP rate limit: sustained requests per second. */
  rateLimitPerSecond: number;
  /** reference per-IP rate limit: burst. */
  rateLimitBurst: number;
  /** wirespan: longest a rate-limited request waits for a token before it is refused. */
  rateLimitMaxWaitMs: number;
  /**
   * wirespan: distinct affiliates whose latest change may wait for one slow watcher before it is
   * aborted (watch.ts). The reference buffers 32 notifications, a change each, and aborts on the
   * 33rd; wirespan keeps only the latest change per affiliate, so a slow reader of a cluster
   * within `clusterAffiliatesMax` is never aborted, only one churning through more IDs.
   */
  watchPendingMax: number;
  /** wirespan: clusters held at once (each costs memory; the reference has no cap). */
  clustersMax: number;
  /** wirespan: concurrent Watch streams over the whole service. */
  watchersMax: number;
  /** wirespan: largest gRPC request accepted (a legal AffiliateUpdate is < 5 KiB). */
  requestBytesMax: number;
}

export const DEFAULT_DISCOVERY_LIMITS: Readonly<DiscoveryLimits> = Object.freeze({
  clusterIdMax: 256,
  affiliateIdMax: 256,
  affiliateDataMax: 2048,
  affiliateEndpointMax: 32,
  affiliateEndpointsMax: 64,
  clusterAffiliatesMax: 1024,
  ttlMaxMs: 30 * 60 * 1000,
  rateLimitPerSecond: 15,
  rateLimitBurst: 60,
  rateLimitMaxWaitMs: 1000,
  watchPendingMax: 1024,
  clustersMax: 100_000,
  watchersMax: 10_000,
  requestBytesMax: 16 * 1024,
});

/** Defaults overridden by `partial`; rejects non-positive or non-numeric values (user input). */
export function resolveLimits(partial: Partial<DiscoveryLimits> = {}): DiscoveryLimits {
  const limits = { ...DEFAULT_DISCOVERY_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    const allowZero = name === "rateLimitMaxWaitMs";
    if (
      typeof value !== "number" ||
      Number.isNaN(value) ||
      value < 0 ||
      (!allowZero && value === 0)
    ) {
      throw new Error(`discovery limit ${name} must be a positive number, got ${String(value)}`);
    }
  }
  return limits;
}
