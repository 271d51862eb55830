/**
 * IPv4 header parsing and building (RFC 791, RFC 1122 §3.2.1, RFC 6864).
 */
import { checksum } from "./checksum.js";
import type { DropReason } from "./counters.js";
import type { IpPacket } from "./packet.js";

/** Linux `ip_default_ttl`. */
export const IPV4_TTL = 64;
export const IPV4_HEADER = 20;

/** Validates and parses an IPv4 packet; a drop reason when it must be discarded. */
export function parseIpv4(p: Uint8Array): IpPacket | DropReason {
  if (p.length < IPV4_HEADER) return "truncated";
  const ihl = (p[0] & 0x0f) << 2;
  if (ihl < IPV4_HEADER) return "bad-header";
  const total = (p[2] << 8) | p[3];
  // RFC 791: total length includes the header; trim link padding to it, drop if the buffer is short.
  if (total < ihl) return "bad-header";
  if (total > p.length) return "truncated";
  if (checksum(p, 0, ihl) !== 0) return "bad-ip-checksum";
  const flags = p[6];
  const offset = (((flags & 0x1f) << 8) | p[7]) << 3;
  const more = (flags & 0x20) !== 0;
  return {
    version: 4,
    src: p.subarray(12, 16),
    dst: p.subarray(16, 20),
    protocol: p[9],
    protocolAt: 9,
    payload: p.subarray(ihl, total),
    headerLength: ihl,
    fragmentId: (p[4] << 8) | p[5],
    fragmentOffset: offset,
    moreFragments: more,
    fragmented: more || offset !== 0,
  };
}

export interface Ipv4HeaderFields {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  /** Header + payload bytes. */
  totalLength: number;
  id: number;
  /** Don't Fragment (set on TCP, as Linux does). */
  dontFragment: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset?: number;
  moreFragments?: boolean;
  ttl?: number;
}

/** Writes a 20-byte IPv4 header with its checksum at `out[0..20)`. */
export function writeIpv4Header(out: Uint8Array, f: Ipv4HeaderFields): void {
  out[0] = 0x45;
  out[1] = 0;
  out[2] = f.totalLength >>> 8;
  out[3] = f.totalLength & 0xff;
  out[4] = (f.id >>> 8) & 0xff;
  out[5] = f.id & 0xff;
  const off = (f.fragmentOffset ?? 0) >>> 3;
  out[6] = (f.dontFragment ? 0x40 : 0) | (f.moreFragments ? 0x20 : 0) | ((off >>> 8) & 0x1f);
  out[7] = off & 0xff;
  out[8] = f.ttl ?? IPV4_TTL;
  out[9] = f.protocol;
  out[10] = 0;
  out[11] = 0;
  out.set(f.src, 12);
  out.set(f.dst, 16);
  const c = checksum(out, 0, IPV4_HEADER);
  out[10] = c >>> 8;
  out[11] = c & 0xff;
}
