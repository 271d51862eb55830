/** The parsed view of an IP packet shared by ipv4.ts and ipv6.ts; every array is a view into the input. */
export interface IpPacket {
  version: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  /** Upper-layer protocol (IPv4 protocol / last IPv6 Next Header). */
  protocol: number;
  /** Offset of the byte naming `protocol` (the ICMPv6 Parameter Problem pointer), −1 if unknown. */
  protocolAt: number;
  /** Upper-layer bytes (trimmed to the length the header gives; link padding removed). */
  payload: Uint8Array;
  /** Header bytes from the version field up to the payload (the part an ICMP error quotes first). */
  headerLength: number;
  /** Fragment identification (IPv4 16 bits, IPv6 32 bits); meaningful when `fragmented`. */
  fragmentId: number;
  /** Fragment offset in bytes. */
  fragmentOffset: number;
  moreFragments: boolean;
  /** True unless this is a whole datagram (offset 0, no more fragments). */
  fragmented: boolean;
}

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;
