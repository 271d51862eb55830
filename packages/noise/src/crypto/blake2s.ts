/**
 * BLAKE2s (RFC 7693) in plain TypeScript, shaped for WireGuard's call pattern: many short inputs
 * (32–200 bytes) split into parts, 32-byte HASH, 16-byte keyed MAC and HMAC-BLAKE2s.
 *
 * Why hand-written: at these sizes general-purpose hash objects cost more per call than the
 * hashing itself (HMAC of 32 B: node:crypto createHmac 2.65 µs, noble 7.79 µs; MAC of 116 B:
 * noble 5.70 µs; here 1.32 and 0.87 µs, one 64-byte compression ≈ 0.3 µs). Every call runs on
 * module-level scratch (state words, one block buffer, message words) and allocates only its
 * result; the compression keeps the 16 working words in locals. Single-threaded JavaScript and
 * synchronous calls make the shared scratch safe; every call zeroes it before returning, as the
 * inputs are often keys. Figures: bench/RESULTS.md "Handshake crypto".
 *
 * Checked against RFC 7693 App. B, the BLAKE2 reference KATs, noble and node:crypto
 * (packages/noise/test/blake2s.test.ts).
 */

/** RFC 7693 §2.6: the BLAKE2s IV (SHA-256's). */
const IV0 = 0x6a09e667;
const IV1 = 0xbb67ae85;
const IV2 = 0x3c6ef372;
const IV3 = 0xa54ff53a;
const IV4 = 0x510e527f;
const IV5 = 0x9b05688c;
const IV6 = 0x1f83d9ab;
const IV7 = 0x5be0cd19;

/** RFC 7693 §2.7: message word schedule, one row of 16 indices per round (10 rounds). */
// biome-ignore format: one row per round
const SIGMA = Uint8Array.of(
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
);

/** BLAKE2s block size in bytes (RFC 7693 §2.1). */
export const BLAKE2S_BLOCK = 64;
/** Longest BLAKE2s digest and key (RFC 7693 §2.1). */
export const BLAKE2S_MAX = 32;

/** Message words of the block being compressed. */
const m = new Uint32Array(16);

/**
 * RFC 7693 §3.2 F: compresses the 64 bytes of `b` at `o` into `h`. `t` is the byte counter
 * including this block (< 2^53, so its high word is exact); `last` sets the final-block flag.
 */
function compress(h: Uint32Array, b: Uint8Array, o: number, t: number, last: boolean): void {
  for (let i = 0; i < 16; i++, o += 4) {
    m[i] = b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24);
  }
  let v0 = h[0] | 0;
  let v1 = h[1] | 0;
  let v2 = h[2] | 0;
  let v3 = h[3] | 0;
  let v4 = h[4] | 0;
  let v5 = h[5] | 0;
  let v6 = h[6] | 0;
  let v7 = h[7] | 0;
  let v8 = IV0;
  let v9 = IV1;
  let v10 = IV2;
  let v11 = IV3;
  let v12 = IV4 ^ t;
  let v13 = IV5 ^ ((t / 0x1_0000_0000) | 0);
  let v14 = last ? ~IV6 : IV6;
  let v15 = IV7;
  for (let s = 0; s < 160; s += 16) {
    // G (RFC 7693 §3.1) on the columns, rotations 16, 12, 8, 7 …
    v0 = (v0 + v4 + m[SIGMA[s]]) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m[SIGMA[s + 1]]) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 7) | (v4 << 25);

    v1 = (v1 + v5 + m[SIGMA[s + 2]]) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m[SIGMA[s + 3]]) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 7) | (v5 << 25);

    v2 = (v2 + v6 + m[SIGMA[s + 4]]) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m[SIGMA[s + 5]]) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 7) | (v6 << 25);

    v3 = (v3 + v7 + m[SIGMA[s + 6]]) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m[SIGMA[s + 7]]) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 7) | (v7 << 25);

    // … then on the diagonals.
    v0 = (v0 + v5 + m[SIGMA[s + 8]]) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m[SIGMA[s + 9]]) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 7) | (v5 << 25);

    v1 = (v1 + v6 + m[SIGMA[s + 10]]) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m[SIGMA[s + 11]]) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 7) | (v6 << 25);

    v2 = (v2 + v7 + m[SIGMA[s + 12]]) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m[SIGMA[s + 13]]) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 7) | (v7 << 25);

    v3 = (v3 + v4 + m[SIGMA[s + 14]]) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m[SIGMA[s + 15]]) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 7) | (v4 << 25);
  }
  h[0] ^= v0 ^ v8;
  h[1] ^= v1 ^ v9;
  h[2] ^= v2 ^ v10;
  h[3] ^= v3 ^ v11;
  h[4] ^= v4 ^ v12;
  h[5] ^= v5 ^ v13;
  h[6] ^= v6 ^ v14;
  h[7] ^= v7 ^ v15;
}

/** The one hash in progress: chain value, pending block and byte counter (RFC 7693 §3.3). */
const state = new Uint32Array(8);
const block = new Uint8Array(BLAKE2S_BLOCK);
let blockLength = 0;
let counter = 0;

/** Parameter block word 0 (RFC 7693 §2.5): digest length, key length, fanout 1, depth 1. */
function start(outLength: number, keyLength: number): void {
  state[0] = IV0 ^ 0x0101_0000 ^ (keyLength << 8) ^ outLength;
  state[1] = IV1;
  state[2] = IV2;
  state[3] = IV3;
  state[4] = IV4;
  state[5] = IV5;
  state[6] = IV6;
  state[7] = IV7;
  blockLength = 0;
  counter = 0;
}

function update(data: Uint8Array): void {
  const n = data.length;
  let i = 0;
  while (i < n) {
    // The last block must be compressed with the final flag, so a full block waits for more.
    if (blockLength === BLAKE2S_BLOCK) {
      counter += BLAKE2S_BLOCK;
      compress(state, block, 0, counter, false);
      blockLength = 0;
    }
    if (blockLength === 0) {
      // Whole blocks straight from the input, keeping at least one byte back for final().
      while (n - i > BLAKE2S_BLOCK) {
        counter += BLAKE2S_BLOCK;
        compress(state, data, i, counter, false);
        i += BLAKE2S_BLOCK;
      }
    }
    const end = Math.min(n, i + BLAKE2S_BLOCK - blockLength);
    while (i < end) block[blockLength++] = data[i++];
  }
}

/** Keyed mode (RFC 7693 §3.3): the key, zero-padded to a block, is the first block. */
function updateKey(key: Uint8Array): void {
  block.set(key);
  block.fill(0, key.length);
  blockLength = BLAKE2S_BLOCK;
}

/** Final block, then the first `outLength` bytes of the chain value, little-endian. */
function finish(out: Uint8Array, outLength: number): Uint8Array {
  counter += blockLength;
  block.fill(0, blockLength);
  compress(state, block, 0, counter, true);
  for (let i = 0, w = 0; i < outLength; w++) {
    const x = state[w];
    out[i++] = x;
    out[i++] = x >>> 8;
    out[i++] = x >>> 16;
    out[i++] = x >>> 24;
  }
  return out;
}

/** Zeroes the scratch after keyed work so no key material outlives the call. */
function wipeScratch(): void {
  state.fill(0);
  block.fill(0);
  m.fill(0);
}

/** BLAKE2s-256 of the concatenation of `parts` (WireGuard's HASH). */
export function blake2s(
  parts: readonly Uint8Array[],
  out: Uint8Array = new Uint8Array(32),
): Uint8Array {
  start(32, 0);
  for (let i = 0; i < parts.length; i++) update(parts[i]);
  finish(out, 32);
  // HASH inputs can be secret-derived (τ of the psk step): leave nothing in the scratch.
  wipeScratch();
  return out;
}

/**
 * Keyed BLAKE2s (RFC 7693 §3.3) with an `outLength`-byte digest over the concatenation of
 * `parts`; WireGuard's MAC is `outLength` 16 (whitepaper §5.4). An empty key is unkeyed mode.
 */
export function blake2sKeyed(
  key: Uint8Array,
  parts: readonly Uint8Array[],
  outLength: number,
): Uint8Array {
  if (key.length > BLAKE2S_MAX) throw new RangeError("BLAKE2s key must be at most 32 bytes");
  if (!Number.isInteger(outLength) || outLength < 1 || outLength > BLAKE2S_MAX) {
    throw new RangeError("BLAKE2s digest length must be 1 to 32 bytes");
  }
  start(outLength, key.length);
  if (key.length > 0) updateKey(key);
  for (let i = 0; i < parts.length; i++) update(parts[i]);
  // finish() writes whole words: 4-byte multiples go straight out, others through a copy.
  const out = outLength % 4 === 0 ? new Uint8Array(outLength) : new Uint8Array(32);
  finish(out, (outLength + 3) & ~3);
  wipeScratch();
  return outLength % 4 === 0 ? out : out.slice(0, outLength);
}

/** RFC 2104 §2: inner and outer pad bytes. */
const IPAD = 0x36;
const OPAD = 0x5c;
/** The inner digest of an HMAC, the outer hash's message (zeroed after use). */
const innerScratch = new Uint8Array(32);

/** HMAC-BLAKE2s-256 (RFC 2104, 64-byte block) of the concatenation of `parts`. */
export function hmacBlake2s(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  const k = key.length > BLAKE2S_BLOCK ? blake2s([key]) : key;
  start(32, 0);
  for (let i = 0; i < k.length; i++) block[i] = k[i] ^ IPAD;
  block.fill(IPAD, k.length);
  blockLength = BLAKE2S_BLOCK;
  for (let i = 0; i < parts.length; i++) update(parts[i]);
  const inner = finish(innerScratch, 32);
  start(32, 0);
  for (let i = 0; i < k.length; i++) block[i] = k[i] ^ OPAD;
  block.fill(OPAD, k.length);
  blockLength = BLAKE2S_BLOCK;
  update(inner);
  const out = finish(new Uint8Array(32), 32);
  inner.fill(0);
  if (k !== key) k.fill(0);
  wipeScratch();
  return out;
}
