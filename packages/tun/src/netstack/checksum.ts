/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624). A hot path: every
 * packet in and out is summed once.
 *
 * RFC 1071 §2(B): the one's-complement sum is byte-order independent, so aligned data is summed
 * as native 32-bit words (each ≡ the sum of its two 16-bit halves modulo 0xFFFF) and swapped
 * once at the end on little-endian hosts.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Folds a non-negative sum (< 2^53) to 16 bits with end-around carry. */
function fold(s: number): number {
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

function swap16(s: number): number {
  return ((s & 0xff) << 8) | (s >>> 8);
}

/**
 * The one's-complement sum (folded, not complemented) of `len` bytes of `b` from `start`, as
 * big-endian 16-bit words; an odd final byte is padded with zero. Add partial sums of
 * even-length pieces with `addSums`.
 */
export function sum(b: Uint8Array, start = 0, len = b.length - start): number {
  let s = 0;
  let i = start;
  const end = start + len;
  const abs = b.byteOffset + i;
  if ((abs & 3) === 0 && len >= 16) {
    const words = (len >>> 2) | 0;
    const w = new Uint32Array(b.buffer, abs, words);
    let acc = 0;
    let j = 0;
    // Unrolled: doubles hold the exact sum of up to 2^21 words before they could lose bits.
    for (; j + 4 <= words; j += 4) acc += w[j] + w[j + 1] + w[j + 2] + w[j + 3];
    for (; j < words; j++) acc += w[j];
    acc = fold(acc);
    s = LITTLE_ENDIAN ? swap16(acc) : acc;
    i += words << 2;
  }
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return fold(s);
}

/** Adds partial sums. */
export function addSums(a: number, b: number): number {
  return fold(a + b);
}

/** The checksum field value for a partial sum: its complement. */
export function finish(s: number): number {
  return ~fold(s) & 0xffff;
}

/** RFC 1071 checksum of a buffer range. */
export function checksum(b: Uint8Array, start = 0, len = b.length - start): number {
  return finish(sum(b, start, len));
}

/**
 * Partial sum of the TCP/UDP/ICMPv6 pseudo-header: IPv4 (RFC 793 §3.1: src, dst, zero,
 * protocol, length) or IPv6 (RFC 8200 §8.1: src, dst, 32-bit length, zeros, next header).
 * The 16-bit length fits both: our upper-layer packets never exceed 65535 bytes.
 */
export function pseudoHeaderSum(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  length: number,
): number {
  let s = protocol + (length & 0xffff) + (length >>> 16);
  for (let i = 0; i < src.length; i += 2) s += (src[i] << 8) | src[i + 1];
  for (let i = 0; i < dst.length; i += 2) s += (dst[i] << 8) | dst[i + 1];
  return fold(s);
}

/**
 * RFC 1624 eqn 3, HC' = ~(~HC + ~m + m'): the checksum after one 16-bit word changes from `m`
 * to `m2`, without resumming (avoids RFC 1141's −0).
 */
export function adjust(hc: number, m: number, m2: number): number {
  return ~fold((~hc & 0xffff) + (~m & 0xffff) + (m2 & 0xffff)) & 0xffff;
}
