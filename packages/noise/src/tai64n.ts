/**
 * TAI64N timestamps (https://cr.yp.to/libtai/tai64.html), the 12-byte payload of a handshake
 * initiation (whitepaper §5.4.2). The responder accepts an initiation only if its timestamp is
 * strictly greater than the last one it accepted from that peer (replay protection, §5.1), so
 * the byte-wise order must match time order: both fields are big-endian.
 *
 * Layout: 8-byte label = 2^62 + 10 + Unix seconds, then 4-byte nanoseconds.
 * The "+ 10" is the TAI−UTC offset of 1970 that TAI64 labels carry; later leap seconds are not
 * added. wireguard-go uses exactly this base (`tai64n` package: base = 4611686018427387914
 * = 2^62 + 10) and so does the kernel, so peers compare our stamps consistently.
 */

/** Length of a TAI64N timestamp in bytes. */
export const TAI64N_LENGTH = 12;

/** TAI64 label of the Unix epoch: 2^62 + 10 seconds (see above). */
const TAI64_EPOCH_LABEL = (1n << 62n) + 10n;

/**
 * Timestamp whitening (reference §1.1): the kernel rounds nanoseconds down to a multiple of the
 * largest power of two ≤ 1e9 / INITIATIONS_PER_SECOND (1e9 / 50 = 2e7, so 2^24 = 16,777,216 ns);
 * wireguard-go masks the same low 24 bits. A stamp then reveals no fine-grained clock (useful to
 * fingerprint hosts), yet stays unique per initiation, which are at most 50 per second.
 */
const WHITENING_GRANULE_NS = 1n << 24n;

const NS_PER_SECOND = 1_000_000_000n;

/**
 * Encodes a wall-clock time (nanoseconds since the Unix epoch, as from
 * `BigInt(Date.now()) * 1_000_000n` or `process.hrtime`-anchored clocks) as a whitened TAI64N
 * timestamp.
 */
export function tai64n(wallClockNs: bigint): Uint8Array {
  if (wallClockNs < 0n) throw new RangeError("wall-clock time before 1970 is not supported");
  const seconds = wallClockNs / NS_PER_SECOND;
  const ns = wallClockNs % NS_PER_SECOND;
  const whitened = ns - (ns % WHITENING_GRANULE_NS);
  const out = new Uint8Array(TAI64N_LENGTH);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, TAI64_EPOCH_LABEL + seconds, false);
  view.setUint32(8, Number(whitened), false);
  return out;
}

/**
 * Compares two TAI64N timestamps byte-wise (big-endian, so this is time order).
 * Returns a negative number, zero or a positive number as `a` is earlier than, equal to or later
 * than `b`. Inputs of other lengths compare by their common prefix, then by length.
 */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}
