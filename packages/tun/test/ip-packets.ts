/**
 * Minimal IPv4/IPv6 + UDP packet building and parsing for the TUN tests (RFC 791, RFC 8200,
 * RFC 768; checksums per RFC 1071, IPv6 pseudo-header per RFC 8200 §8.1).
 */

export function ipv4Bytes(addr: string): Uint8Array {
  const parts = addr.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`bad IPv4 address ${addr}`);
  }
  return Uint8Array.from(parts);
}

export function ipv6Bytes(addr: string): Uint8Array {
  const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups =
    tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${addr}`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** RFC 1071 ones' complement sum of `chunks`, folded and complemented. */
export function internetChecksum(...chunks: Uint8Array[]): number {
  let sum = 0;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i += 2) {
      sum += (c[i] << 8) | (i + 1 < c.length ? c[i + 1] : 0);
    }
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function udpHeader(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  const v = new DataView(udp.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint16(4, udp.length);
  udp.set(payload, 8);
  return udp;
}

export function udp4(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const s = ipv4Bytes(src);
  const d = ipv4Bytes(dst);
  const udp = udpHeader(sport, dport, payload);
  const pseudo = new Uint8Array(12);
  pseudo.set(s, 0);
  pseudo.set(d, 4);
  pseudo[9] = 17;
  new DataView(pseudo.buffer).setUint16(10, udp.length);
  new DataView(udp.buffer).setUint16(6, internetChecksum(pseudo, udp) || 0xffff);
  const pkt = new Uint8Array(20 + udp.length);
  const v = new DataView(pkt.buffer);
  pkt[0] = 0x45; // version 4, IHL 5
  v.setUint16(2, pkt.length);
  pkt[8] = 64; // TTL
  pkt[9] = 17; // UDP
  pkt.set(s, 12);
  pkt.set(d, 16);
  v.setUint16(10, internetChecksum(pkt.subarray(0, 20)));
  pkt.set(udp, 20);
  return pkt;
}

export function udp6(
  src: string,
  dst: string,
  sport: number,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const s = ipv6Bytes(src);
  const d = ipv6Bytes(dst);
  const udp = udpHeader(sport, dport, payload);
  const pseudo = new Uint8Array(40);
  pseudo.set(s, 0);
  pseudo.set(d, 16);
  new DataView(pseudo.buffer).setUint32(32, udp.length);
  pseudo[39] = 17;
  // RFC 8200 §8.1: a zero UDP checksum is invalid over IPv6; 0 is sent as 0xffff.
  new DataView(udp.buffer).setUint16(6, internetChecksum(pseudo, udp) || 0xffff);
  const pkt = new Uint8Array(40 + udp.length);
  const v = new DataView(pkt.buffer);
  pkt[0] = 0x60;
  v.setUint16(4, udp.length);
  pkt[6] = 17; // next header UDP
  pkt[7] = 64; // hop limit
  pkt.set(s, 8);
  pkt.set(d, 24);
  pkt.set(udp, 40);
  return pkt;
}

export interface ParsedUdp {
  version: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  payload: Uint8Array;
  /** IPv4 header checksum verifies (always true for IPv6, which has none). */
  headerChecksumOk: boolean;
}

/** Parses a UDP packet without extension headers or IPv4 options; undefined otherwise. */
export function parseUdp(pkt: Uint8Array): ParsedUdp | undefined {
  const v = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  if (pkt.length >= 28 && pkt[0] === 0x45 && pkt[9] === 17) {
    return {
      version: 4,
      src: pkt.subarray(12, 16),
      dst: pkt.subarray(16, 20),
      sport: v.getUint16(20),
      dport: v.getUint16(22),
      payload: pkt.subarray(28, v.getUint16(2)),
      headerChecksumOk: internetChecksum(pkt.subarray(0, 20)) === 0,
    };
  }
  if (pkt.length >= 48 && pkt[0] >> 4 === 6 && pkt[6] === 17) {
    return {
      version: 6,
      src: pkt.subarray(8, 24),
      dst: pkt.subarray(24, 40),
      sport: v.getUint16(40),
      dport: v.getUint16(42),
      payload: pkt.subarray(48, 40 + v.getUint16(4)),
      headerChecksumOk: true,
    };
  }
  return undefined;
}
