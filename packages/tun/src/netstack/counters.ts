/**
 * Why the netstack dropped a packet: a closed union, counted per reason. Bad input from the
 * network is never an exception, only one of these.
 */

export const DROP_REASONS = [
  /** Shorter than its headers say, or than any valid header. */
  "truncated",
  /** Version nibble neither 4 nor 6. */
  "bad-version",
  /** IPv4 IHL < 5 or beyond the packet; total/payload length inconsistent. */
  "bad-header",
  /** IPv4 header checksum wrong (RFC 791). */
  "bad-ip-checksum",
  /** TCP/UDP/ICMP checksum wrong, or UDP checksum 0 over IPv6 (RFC 8200 §8.1). */
  "bad-checksum",
  /** Destination is not one of our addresses. */
  "not-for-us",
  /** Source is multicast/broadcast/unspecified or one of our own addresses. */
  "bad-source",
  /** Upper-layer protocol we do not speak. */
  "unknown-protocol",
  /** IPv6 extension header malformed, unknown, or a routing header with segments left. */
  "bad-extension-header",
  /** Overlapping fragments: the whole datagram is discarded (RFC 5722; FragmentSmack). */
  "fragment-overlap",
  /** Fragment beyond 65535 bytes, or a non-last fragment not a multiple of 8. */
  "fragment-invalid",
  /** Reassembly memory limit reached: oldest datagrams evicted. */
  "fragment-evicted",
  /** Reassembly timed out (RFC 791: 30 s here, like Linux). */
  "fragment-timeout",
  /** Malformed UDP header (length field). */
  "bad-udp",
  /** UDP to a port nobody listens on (answered with ICMP port unreachable when allowed). */
  "udp-no-socket",
  /** Malformed ICMP/ICMPv6 message. */
  "bad-icmp",
  /** ICMP type we do not act on (e.g. neighbour discovery, redirects, unsolicited replies). */
  "icmp-ignored",
  /** ICMP error quoting a packet that matches no socket of ours. */
  "icmp-unmatched",
  /** TCP segment without a TCP layer to take it. */
  "no-tcp",
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export type DropCounters = Record<DropReason, number>;

export function newDropCounters(): DropCounters {
  const c = {} as DropCounters;
  for (const r of DROP_REASONS) c[r] = 0;
  return c;
}

/** Traffic counters of a NetStack (exact below 2^53). */
export interface NetStackCounters {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Datagrams completed by fragment reassembly. */
  reassembled: number;
  /** ICMP errors we sent (port unreachable, time exceeded). */
  icmpErrorsSent: number;
  /** ICMP errors suppressed by the rate limit (RFC 4443 §2.4(f)). */
  icmpRateLimited: number;
  dropped: DropCounters;
}
