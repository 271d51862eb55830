/**
 * TCP header parsing (RFC 9293 §3.1) into a reusable record, without allocation beyond the
 * payload view. Options are parsed by options.ts.
 */
import { parseOptions } from "./options.js";

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

export const TCP_HEADER_MIN = 20;

/** One parsed segment; fields are overwritten by every `parseSegment` call. */
export class Segment {
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  headerLength = 0;
  payload: Uint8Array = new Uint8Array(0);
  /** Options: 0 / -1 / false when absent. */
  mss = 0;
  wscale = -1;
  sackPermitted = false;
  hasTimestamp = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks as [left0, right0, left1, right1, …]; `sackCount` pairs are valid. */
  readonly sack = new Uint32Array(8);
  sackCount = 0;

  /** SEG.LEN: data plus SYN and FIN, each of which takes one sequence number. */
  get seqLength(): number {
    return this.payload.length + (this.flags & SYN ? 1 : 0) + (this.flags & FIN ? 1 : 0);
  }
}

/**
 * Parses `bytes` (TCP header + payload) into `out`. Returns false for a segment that cannot be
 * a TCP segment: shorter than 20 bytes, data offset < 5 or beyond the buffer.
 */
export function parseSegment(bytes: Uint8Array, out: Segment): boolean {
  if (bytes.length < TCP_HEADER_MIN) return false;
  const hlen = (bytes[12] >> 4) * 4;
  if (hlen < TCP_HEADER_MIN || hlen > bytes.length) return false;
  out.srcPort = (bytes[0] << 8) | bytes[1];
  out.dstPort = (bytes[2] << 8) | bytes[3];
  out.seq = ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7]) >>> 0;
  out.ack = ((bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) | bytes[11]) >>> 0;
  out.flags = bytes[13] & 0x3f;
  out.window = (bytes[14] << 8) | bytes[15];
  out.headerLength = hlen;
  out.payload = hlen === bytes.length ? EMPTY : bytes.subarray(hlen);
  parseOptions(bytes, TCP_HEADER_MIN, hlen, out);
  return true;
}

const EMPTY = new Uint8Array(0);

/** Reads the ports and sequence number of a quoted header (ICMP errors carry ≥ 8 bytes). */
export function quotedPortsAndSeq(
  quoted: Uint8Array,
): { srcPort: number; dstPort: number; seq: number } | null {
  if (quoted.length < 8) return null;
  return {
    srcPort: (quoted[0] << 8) | quoted[1],
    dstPort: (quoted[2] << 8) | quoted[3],
    seq: ((quoted[4] << 24) | (quoted[5] << 16) | (quoted[6] << 8) | quoted[7]) >>> 0,
  };
}
