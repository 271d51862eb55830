/**
 * TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018): parsing into a Segment and writing the
 * layouts Linux uses, so option space is predictable:
 *   SYN:      MSS(4) SACK-permitted(2) Timestamps(10) NOP WS(3)          = 20 bytes
 *   non-SYN:  NOP NOP Timestamps(10) [NOP NOP SACK(2 + 8·n)]            ≤ 40 bytes
 */
import type { Segment } from "./segment.js";

export const OPT_EOL = 0;
export const OPT_NOP = 1;
export const OPT_MSS = 2;
export const OPT_WSCALE = 3;
export const OPT_SACK_PERMITTED = 4;
export const OPT_SACK = 5;
export const OPT_TIMESTAMP = 8;

/** RFC 7323 §2.3: a shift above 14 is treated as 14. */
export const MAX_WSCALE = 14;

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/**
 * Parses options in bytes[start, end) into `out`. A malformed option list (length byte missing,
 * < 2 or running past the header) ends parsing; options with a wrong length for their kind are
 * ignored — the segment itself is still processed, as Linux does.
 */
export function parseOptions(bytes: Uint8Array, start: number, end: number, out: Segment): void {
  out.mss = 0;
  out.wscale = -1;
  out.sackPermitted = false;
  out.hasTimestamp = false;
  out.sackCount = 0;
  let i = start;
  while (i < end) {
    const kind = bytes[i];
    if (kind === OPT_EOL) return;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return;
    const len = bytes[i + 1];
    if (len < 2 || i + len > end) return;
    switch (kind) {
      case OPT_MSS:
        if (len === 4) out.mss = (bytes[i + 2] << 8) | bytes[i + 3];
        break;
      case OPT_WSCALE:
        if (len === 3) out.wscale = Math.min(bytes[i + 2], MAX_WSCALE);
        break;
      case OPT_SACK_PERMITTED:
        if (len === 2) out.sackPermitted = true;
        break;
      case OPT_TIMESTAMP:
        if (len === 10) {
          out.hasTimestamp = true;
          out.tsVal = u32(bytes, i + 2);
          out.tsEcr = u32(bytes, i + 6);
        }
        break;
      case OPT_SACK:
        if ((len - 2) % 8 === 0) {
          const n = Math.min((len - 2) / 8, 4);
          for (let k = 0; k < n; k++) {
            out.sack[2 * k] = u32(bytes, i + 2 + 8 * k);
            out.sack[2 * k + 1] = u32(bytes, i + 6 + 8 * k);
          }
          out.sackCount = n;
        }
        break;
    }
    i += len;
  }
}

export interface SynOptions {
  mss: number;
  /** -1 = do not offer window scaling. */
  wscale: number;
  sackPermitted: boolean;
  /** Timestamps to send, or undefined for none. */
  ts: { val: number; ecr: number } | undefined;
}

/** Length of the SYN option block (a multiple of 4). */
export function synOptionsLength(o: SynOptions): number {
  let n = 4; // MSS
  if (o.ts !== undefined)
    n += 12; // (SACK-permitted or NOP NOP) + timestamps
  else if (o.sackPermitted) n += 4; // NOP NOP SACK-permitted
  if (o.wscale >= 0) n += 4; // NOP + WS
  return n;
}

function put32(b: Uint8Array, i: number, v: number): void {
  b[i] = v >>> 24;
  b[i + 1] = v >>> 16;
  b[i + 2] = v >>> 8;
  b[i + 3] = v;
}

/** Writes the SYN options at b[i]; returns the end offset. */
export function writeSynOptions(b: Uint8Array, i: number, o: SynOptions): number {
  b[i] = OPT_MSS;
  b[i + 1] = 4;
  b[i + 2] = o.mss >>> 8;
  b[i + 3] = o.mss;
  i += 4;
  if (o.ts !== undefined) {
    if (o.sackPermitted) {
      b[i] = OPT_SACK_PERMITTED;
      b[i + 1] = 2;
    } else {
      b[i] = OPT_NOP;
      b[i + 1] = OPT_NOP;
    }
    b[i + 2] = OPT_TIMESTAMP;
    b[i + 3] = 10;
    put32(b, i + 4, o.ts.val);
    put32(b, i + 8, o.ts.ecr);
    i += 12;
  } else if (o.sackPermitted) {
    b[i] = OPT_NOP;
    b[i + 1] = OPT_NOP;
    b[i + 2] = OPT_SACK_PERMITTED;
    b[i + 3] = 2;
    i += 4;
  }
  if (o.wscale >= 0) {
    b[i] = OPT_NOP;
    b[i + 1] = OPT_WSCALE;
    b[i + 2] = 3;
    b[i + 3] = o.wscale;
    i += 4;
  }
  return i;
}

/** Length of the options of a non-SYN segment with/without timestamps and `sackBlocks` blocks. */
export function dataOptionsLength(timestamps: boolean, sackBlocks: number): number {
  return (timestamps ? 12 : 0) + (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
}

/** Most SACK blocks that fit next to the given options (RFC 2018 §3: 3 with timestamps, else 4). */
export function maxSackBlocks(timestamps: boolean): number {
  return timestamps ? 3 : 4;
}

/** Writes NOP NOP TS and/or NOP NOP SACK at b[i]; `sack` holds [l0, r0, l1, r1, …]. */
export function writeDataOptions(
  b: Uint8Array,
  i: number,
  tsVal: number,
  tsEcr: number,
  timestamps: boolean,
  sack: ArrayLike<number>,
  sackBlocks: number,
): number {
  if (timestamps) {
    b[i] = OPT_NOP;
    b[i + 1] = OPT_NOP;
    b[i + 2] = OPT_TIMESTAMP;
    b[i + 3] = 10;
    put32(b, i + 4, tsVal);
    put32(b, i + 8, tsEcr);
    i += 12;
  }
  if (sackBlocks > 0) {
    b[i] = OPT_NOP;
    b[i + 1] = OPT_NOP;
    b[i + 2] = OPT_SACK;
    b[i + 3] = 2 + 8 * sackBlocks;
    i += 4;
    for (let k = 0; k < sackBlocks; k++) {
      put32(b, i, sack[2 * k]);
      put32(b, i + 4, sack[2 * k + 1]);
      i += 8;
    }
  }
  return i;
}

/** Writes the fixed 20-byte header at b[o]; checksum and urgent pointer stay 0. */
export function writeHeader(
  b: Uint8Array,
  o: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  headerLength: number,
  flags: number,
  window: number,
): void {
  b[o] = srcPort >>> 8;
  b[o + 1] = srcPort;
  b[o + 2] = dstPort >>> 8;
  b[o + 3] = dstPort;
  put32(b, o + 4, seq);
  put32(b, o + 8, ack);
  b[o + 12] = (headerLength >> 2) << 4;
  b[o + 13] = flags;
  b[o + 14] = window >>> 8;
  b[o + 15] = window;
}
