/**
 * Turning TCP's emitted segments into IP packets: the checksum (pseudo-header, RFC 9293 §3.1)
 * and the IP header written into the headroom TCP leaves before each segment (no copy), and the
 * split of an offloaded large segment into MSS-sized ones (TSO: one pass over the header, the
 * sequence number advanced per piece, FIN and PSH only on the last, as a NIC does).
 */
import { addSums, finish, pseudoHeaderSum, sum } from "./checksum.js";
import { IPV4_HEADER, writeIpv4Header } from "./ipv4.js";
import { IPV6_HEADER, writeIpv6Header } from "./ipv6.js";
import { PROTO_TCP } from "./packet.js";

/** Headroom asked of TCP: room for the larger (IPv6) header. */
export const TCP_HEADROOM = IPV6_HEADER;

const FIN = 0x01;
const PSH = 0x08;

/** Wraps one TCP segment (checksum field 0) in IP, in place when the headroom allows. */
export function tcpPacket(
  src: Uint8Array,
  dst: Uint8Array,
  segment: Uint8Array,
  id: number,
): Uint8Array {
  const hl = dst.length === 4 ? IPV4_HEADER : IPV6_HEADER;
  let pkt: Uint8Array;
  if (segment.byteOffset >= hl) {
    pkt = new Uint8Array(segment.buffer, segment.byteOffset - hl, hl + segment.length);
  } else {
    pkt = new Uint8Array(hl + segment.length);
    pkt.set(segment, hl);
  }
  const len = segment.length;
  pkt[hl + 16] = 0;
  pkt[hl + 17] = 0;
  const c = finish(addSums(pseudoHeaderSum(src, dst, PROTO_TCP, len), sum(pkt, hl, len)));
  pkt[hl + 16] = c >>> 8;
  pkt[hl + 17] = c & 0xff;
  if (hl === IPV4_HEADER) {
    // DF on TCP like Linux; the ID need not be unique for atomic datagrams (RFC 6864).
    writeIpv4Header(pkt, {
      src,
      dst,
      protocol: PROTO_TCP,
      totalLength: pkt.length,
      id,
      dontFragment: true,
    });
  } else {
    writeIpv6Header(pkt, src, dst, PROTO_TCP, len);
  }
  return pkt;
}

/**
 * Splits a segment whose payload exceeds `mss` into segments of at most `mss` payload bytes
 * (each a fresh buffer with headroom); returns [segment] when no split is needed.
 */
export function splitTcpSegment(segment: Uint8Array, mss: number): Uint8Array[] {
  const thl = (segment[12] >>> 4) << 2;
  const payload = segment.length - thl;
  if (payload <= mss || mss <= 0) return [segment];
  const out: Uint8Array[] = [];
  const seq = ((segment[4] << 24) | (segment[5] << 16) | (segment[6] << 8) | segment[7]) >>> 0;
  const flags = segment[13];
  for (let off = 0; off < payload; off += mss) {
    const n = Math.min(mss, payload - off);
    const buf = new Uint8Array(TCP_HEADROOM + thl + n);
    const s = buf.subarray(TCP_HEADROOM);
    s.set(segment.subarray(0, thl), 0);
    s.set(segment.subarray(thl + off, thl + off + n), thl);
    const q = (seq + off) >>> 0;
    s[4] = q >>> 24;
    s[5] = (q >>> 16) & 0xff;
    s[6] = (q >>> 8) & 0xff;
    s[7] = q & 0xff;
    if (off + n < payload) s[13] = flags & ~(FIN | PSH);
    out.push(s);
  }
  return out;
}
