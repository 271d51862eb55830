/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443): echo, the errors we send, and the errors we receive
 * turned into socket errors the way Linux maps them (`icmp_err_convert`, `icmpv6_err_convert`;
 * reference/netstack.md §1.5).
 */
import { IPV4_HEADER } from "./ipv4.js";
import { IPV6_HEADER, walkIpv6Extensions } from "./ipv6.js";

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
export const ICMPV6_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

/** errno names a received ICMP error maps to. */
export type IcmpErrno =
  | "ECONNREFUSED"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "EHOSTDOWN"
  | "ENOPROTOOPT"
  | "EOPNOTSUPP"
  | "EMSGSIZE"
  | "EACCES"
  | "EPROTO";

/** A received ICMP error as a socket sees it. */
export interface SocketError {
  code: IcmpErrno;
  /** Fatal errors abort a connection attempt / are reported at once (Linux semantics). */
  fatal: boolean;
  /** Next-hop MTU for EMSGSIZE (RFC 1191 frag-needed, RFC 8201 Packet Too Big). */
  mtu?: number;
}

/** Maps an ICMP(v6) error type/code to errno; null for types that are not errors about a packet. */
export function icmpToSocketError(
  version: 4 | 6,
  type: number,
  code: number,
  rest: number,
): SocketError | null {
  if (version === 4) {
    switch (type) {
      case ICMP_UNREACHABLE:
        switch (code) {
          case 0:
          case 6:
          case 9:
          case 11:
            return { code: "ENETUNREACH", fatal: false };
          case 2:
            return { code: "ENOPROTOOPT", fatal: true };
          case 3:
            return { code: "ECONNREFUSED", fatal: true };
          case 4:
            return { code: "EMSGSIZE", fatal: false, mtu: rest & 0xffff };
          case 5:
            return { code: "EOPNOTSUPP", fatal: false };
          case 7:
            return { code: "EHOSTDOWN", fatal: false };
          default:
            return { code: "EHOSTUNREACH", fatal: false };
        }
      case ICMP_TIME_EXCEEDED:
        return { code: "EHOSTUNREACH", fatal: false };
      case ICMP_PARAMETER_PROBLEM:
        return { code: "EPROTO", fatal: true };
      default:
        return null;
    }
  }
  switch (type) {
    case ICMPV6_UNREACHABLE:
      switch (code) {
        case 0:
          return { code: "ENETUNREACH", fatal: false };
        case 1:
        case 5:
        case 6:
          return { code: "EACCES", fatal: true };
        case 4:
          return { code: "ECONNREFUSED", fatal: true };
        default:
          return { code: "EHOSTUNREACH", fatal: false };
      }
    case ICMPV6_PACKET_TOO_BIG:
      return { code: "EMSGSIZE", fatal: false, mtu: rest >>> 0 };
    case ICMPV6_TIME_EXCEEDED:
      return { code: "EHOSTUNREACH", fatal: false };
    case ICMPV6_PARAMETER_PROBLEM:
      return { code: "EPROTO", fatal: true };
    default:
      return null;
  }
}

/** The packet an ICMP error quotes: its addresses, protocol and (at least 8) transport bytes. */
export interface QuotedPacket {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  transport: Uint8Array;
}

/**
 * Parses the invoking packet inside an error's body (after the 8-byte ICMP header). The quote
 * must be of the same IP version and hold ≥ 8 transport bytes (RFC 792; RFC 4443 §2.4(c)).
 */
export function parseQuoted(version: 4 | 6, body: Uint8Array): QuotedPacket | null {
  if (version === 4) {
    if (body.length < IPV4_HEADER + 8 || body[0] >> 4 !== 4) return null;
    const ihl = (body[0] & 0x0f) << 2;
    if (ihl < IPV4_HEADER || body.length < ihl + 8) return null;
    // Only a first fragment (offset 0) carries the transport header.
    if ((((body[6] & 0x1f) << 8) | body[7]) !== 0) return null;
    return {
      src: body.subarray(12, 16),
      dst: body.subarray(16, 20),
      protocol: body[9],
      transport: body.subarray(ihl),
    };
  }
  if (body.length < IPV6_HEADER + 8 || body[0] >> 4 !== 6) return null;
  const chain = walkIpv6Extensions(body, IPV6_HEADER, body[6], body.length, true);
  if (typeof chain === "string" || (chain.fragment !== null && chain.fragment.offset !== 0))
    return null;
  if (body.length < chain.offset + 8) return null;
  return {
    src: body.subarray(8, 24),
    dst: body.subarray(24, 40),
    protocol: chain.protocol,
    transport: body.subarray(chain.offset),
  };
}

/**
 * Builds an ICMP(v6) message with an 8-byte header (type, code, checksum 0, 4 bytes `rest`)
 * and `body`; the caller fills the checksum (ICMPv6 needs the pseudo-header).
 */
export function icmpMessage(
  type: number,
  code: number,
  rest: number,
  body: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  m[4] = (rest >>> 24) & 0xff;
  m[5] = (rest >>> 16) & 0xff;
  m[6] = (rest >>> 8) & 0xff;
  m[7] = rest & 0xff;
  m.set(body, 8);
  return m;
}

/**
 * How much of an offending packet an error quotes: IPv4 the header + 8 bytes at least, we quote
 * up to 576 bytes total like Linux (RFC 1812 §4.3.2.3); IPv6 as much as fits in the minimum
 * MTU of 1280 (RFC 4443 §2.4(c)).
 */
export function quoteLength(version: 4 | 6, packetLength: number): number {
  const max = version === 4 ? 576 - IPV4_HEADER - 8 : 1280 - IPV6_HEADER - 8;
  return Math.min(packetLength, max);
}
