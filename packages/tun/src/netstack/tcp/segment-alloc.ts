/**
 * Output segment memory: views carved from large zeroed slabs, so emitting a segment costs a
 * view, not a fresh backing store (which V8 allocates and zeroes off-heap — the dominant cost
 * per segment in profiles). Slabs are never reused: a segment handed to the IP layer stays valid
 * for as long as it is referenced, and its unused bytes (checksum, urgent pointer) are zero.
 */
const SLAB = 256 * 1024;

let slab = new Uint8Array(SLAB);
let used = 0;

export function allocSegment(n: number): Uint8Array {
  if (n > SLAB >> 2) return new Uint8Array(n);
  if (used + n > SLAB) {
    slab = new Uint8Array(SLAB);
    used = 0;
  }
  const v = slab.subarray(used, used + n);
  used = (used + n + 7) & ~7; // 8-byte alignment for whoever writes headers in front
  return v;
}
