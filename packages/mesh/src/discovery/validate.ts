import type { DiscoveryLimits } from "./limits.js";
import { invalidArgument } from "./refusal.js";

/**
 * Request validation (kubespan.md §1.3). IDs are measured in UTF-8 bytes, as the reference limits
 * are byte counts. The service never parses data or endpoints: only their sizes are checked.
 */

export function validateClusterId(id: unknown, limits: DiscoveryLimits): string {
  return validateId("cluster", id, limits.clusterIdMax);
}

export function validateAffiliateId(id: unknown, limits: DiscoveryLimits): string {
  return validateId("affiliate", id, limits.affiliateIdMax);
}

function validateId(kind: string, id: unknown, max: number): string {
  if (typeof id !== "string" || id.length === 0) throw invalidArgument(`${kind} id is empty`);
  if (Buffer.byteLength(id, "utf8") > max) throw invalidArgument(`${kind} id is too long`);
  return id;
}

export function validateData(data: Uint8Array | undefined, limits: DiscoveryLimits): void {
  if (data !== undefined && data.length > limits.affiliateDataMax) {
    throw invalidArgument("affiliate data is too big");
  }
}

/**
 * An empty endpoint can never be an encrypted endpoint (one AES block at least, §2.3), so it is
 * refused rather than stored; a single request can never carry more than the stored maximum.
 */
export function validateEndpoints(endpoints: readonly Uint8Array[], limits: DiscoveryLimits): void {
  if (endpoints.length > limits.affiliateEndpointsMax) {
    throw invalidArgument("too many affiliate endpoints in one request");
  }
  for (const endpoint of endpoints) {
    if (endpoint.length === 0) throw invalidArgument("affiliate endpoint is empty");
    if (endpoint.length > limits.affiliateEndpointMax) {
      throw invalidArgument("affiliate endpoint is too big");
    }
  }
}

/** TTL in milliseconds: must be positive and at most `TTLMax`. */
export function validateTtlMs(ttlMs: number, limits: DiscoveryLimits): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw invalidArgument("ttl must be positive");
  if (ttlMs > limits.ttlMaxMs) throw invalidArgument("ttl is too long");
  return ttlMs;
}

export interface DurationMessage {
  seconds?: string | number | null;
  nanos?: number | null;
}

/**
 * google.protobuf.Duration → milliseconds. Seconds arrive as a decimal string (int64); a value far
 * beyond TTLMax is clamped to +Infinity so it is refused as too long, never rounded into range.
 */
export function durationToMs(duration: DurationMessage | null | undefined): number {
  if (duration == null) throw invalidArgument("ttl is missing");
  const nanos = duration.nanos ?? 0;
  if (!Number.isInteger(nanos) || nanos <= -1e9 || nanos >= 1e9) {
    throw invalidArgument("ttl nanos out of range");
  }
  let seconds: bigint;
  try {
    seconds = BigInt(duration.seconds ?? 0);
  } catch {
    throw invalidArgument("ttl seconds malformed");
  }
  if ((seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0)) {
    throw invalidArgument("ttl seconds and nanos differ in sign");
  }
  const limit = 1n << 40n;
  if (seconds > limit) return Number.POSITIVE_INFINITY;
  if (seconds < -limit) return Number.NEGATIVE_INFINITY;
  return Number(seconds) * 1000 + nanos / 1e6;
}
