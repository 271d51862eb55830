/**
 * IPv6 header parsing with the extension-header walk, and header building (RFC 8200).
 */
import type { DropReason } from "./counters.js";
import type { IpPacket } from "./packet.js";

/** Linux hop limit. */
export const IPV6_HOP_LIMIT = 64;
export const IPV6_HEADER = 40;

const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AH = 51;
const DEST_OPTS = 60;

/** Where the extension headers end: the upper-layer protocol and offset, plus any Fragment header. */
export interface Ipv6Chain {
  protocol: number;
  /** Offset of the Next Header byte that named `protocol` (−1: the caller's `nextAt`). */
  protocolAt: number;
  offset: number;
  fragment: { id: number; offset: number; more: boolean } | null;
}

/**
 * Why a header chain was refused, for the ICMPv6 Parameter Problem a host owes its sender
 * (RFC 8200 §4, RFC 4443 §3.4): code 0 erroneous header field, 1 unrecognized Next Header,
 * 2 unrecognized option; `pointer` = offset of the offending byte. Filled by the walk.
 */
export interface Ipv6Problem {
  code: number;
  pointer: number;
}

/**
 * RFC 8200 §4.2: walks the TLV options of a Hop-by-Hop or Destination Options header. Unknown
 * options whose two high type bits are not 00 say "discard the packet"; 10 and 11 also ask for a
 * Parameter Problem code 2 pointing at the option type (11: not to a multicast destination —
 * ours never is).
 */
function optionsAcceptable(
  p: Uint8Array,
  start: number,
  end: number,
  problem: Ipv6Problem | undefined,
): boolean {
  let i = start;
  while (i < end) {
    const type = p[i];
    if (type === 0) {
      i++; // Pad1
      continue;
    }
    if (i + 1 >= end) return false;
    const len = p[i + 1];
    if (i + 2 + len > end) return false;
    if (type !== 1 && (type & 0xc0) !== 0) {
      if (problem !== undefined && (type & 0x80) !== 0) {
        problem.code = 2;
        problem.pointer = i;
      }
      return false;
    }
    i += 2 + len;
  }
  return true;
}

/**
 * Walks extension headers from `offset` (the header named by `next`, whose byte is at `nextAt`)
 * up to the upper layer. Stops at the first Fragment header that is not atomic (RFC 6946: an
 * atomic fragment is a whole packet): what follows it is fragment data. A refusal the sender
 * should hear about (RFC 8200 §4) is described in `problem` when given.
 */
export function walkIpv6Extensions(
  p: Uint8Array,
  offset: number,
  next: number,
  end: number,
  afterFixedHeader: boolean,
  problem?: Ipv6Problem,
  nextAt = afterFixedHeader ? 6 : -1,
): Ipv6Chain | DropReason {
  let first = afterFixedHeader;
  // Every header is ≥ 8 bytes, so the walk is bounded by the packet length.
  for (;;) {
    switch (next) {
      case HOP_BY_HOP:
      case DEST_OPTS:
      case ROUTING: {
        // §4.3: Hop-by-Hop only directly after the fixed header (else code 1 at its Next Header).
        if (next === HOP_BY_HOP && !first) {
          if (problem !== undefined && nextAt >= 0) {
            problem.code = 1;
            problem.pointer = nextAt;
          }
          return "bad-extension-header";
        }
        if (offset + 8 > end) return "truncated";
        const len = (p[offset + 1] + 1) << 3;
        if (offset + len > end) return "truncated";
        if (next === ROUTING) {
          // §4.4: Segments Left 0 → skip; otherwise we would have to route (RH0 is deprecated,
          // RFC 5095): discard, Parameter Problem code 0 at the Routing Type.
          if (p[offset + 3] !== 0) {
            if (problem !== undefined) {
              problem.code = 0;
              problem.pointer = offset + 2;
            }
            return "bad-extension-header";
          }
        } else if (!optionsAcceptable(p, offset + 2, offset + len, problem)) {
          return "bad-extension-header";
        }
        next = p[offset];
        nextAt = offset;
        offset += len;
        break;
      }
      case AH: {
        if (offset + 8 > end) return "truncated";
        const len = (p[offset + 1] + 2) << 2;
        if (offset + len > end) return "truncated";
        next = p[offset];
        nextAt = offset;
        offset += len;
        break;
      }
      case FRAGMENT: {
        if (offset + 8 > end) return "truncated";
        const fragOffset = ((p[offset + 2] << 8) | (p[offset + 3] & 0xf8)) & 0xfff8;
        const more = (p[offset + 3] & 1) === 1;
        const id =
          ((p[offset + 4] << 24) | (p[offset + 5] << 16) | (p[offset + 6] << 8) | p[offset + 7]) >>>
          0;
        const inner = p[offset];
        const innerAt = offset;
        offset += 8;
        if (fragOffset === 0 && !more) {
          next = inner;
          nextAt = innerAt;
          break;
        }
        return {
          protocol: inner,
          protocolAt: innerAt,
          offset,
          fragment: { id, offset: fragOffset, more },
        };
      }
      default:
        return { protocol: next, protocolAt: nextAt, offset, fragment: null };
    }
    first = false;
  }
}

/** Validates and parses an IPv6 packet, walking its extension headers (see walkIpv6Extensions). */
export function parseIpv6(p: Uint8Array, problem?: Ipv6Problem): IpPacket | DropReason {
  if (p.length < IPV6_HEADER) return "truncated";
  const payloadLength = (p[4] << 8) | p[5];
  const end = IPV6_HEADER + payloadLength;
  // Jumbograms (payload length 0 + Hop-by-Hop option, RFC 2675) cannot occur below a 1420 MTU.
  if (end > p.length) return "truncated";
  const chain = walkIpv6Extensions(p, IPV6_HEADER, p[6], end, true, problem);
  if (typeof chain === "string") return chain;
  const frag = chain.fragment;
  return {
    version: 6,
    src: p.subarray(8, 24),
    dst: p.subarray(24, 40),
    protocol: chain.protocol,
    protocolAt: chain.protocolAt,
    payload: p.subarray(chain.offset, end),
    headerLength: chain.offset,
    fragmentId: frag?.id ?? 0,
    fragmentOffset: frag?.offset ?? 0,
    moreFragments: frag?.more ?? false,
    fragmented: frag !== null,
  };
}

/** Writes a 40-byte IPv6 header at `out[0..40)`; `payloadLength` excludes it. */
export function writeIpv6Header(
  out: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  payloadLength: number,
  hopLimit = IPV6_HOP_LIMIT,
): void {
  out[0] = 0x60;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out[4] = payloadLength >>> 8;
  out[5] = payloadLength & 0xff;
  out[6] = nextHeader;
  out[7] = hopLimit;
  out.set(src, 8);
  out.set(dst, 24);
}
