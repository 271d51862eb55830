import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adjust, checksum, sum } from "../../src/netstack/checksum.js";

/** Straightforward RFC 1071 reference: big-endian 16-bit words, end-around carry. */
function reference(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) | (i + 1 < b.length ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

describe("Internet checksum (RFC 1071, RFC 1624)", () => {
  it("matches the RFC 1071 §3 worked example (sum 0xddf2)", () => {
    const b = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(sum(b)).toBe(0xddf2);
    expect(checksum(b)).toBe(~0xddf2 & 0xffff);
  });

  it("equals the byte-wise reference at every alignment and length, odd lengths included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(7), (data, pad) => {
        const backing = new Uint8Array(data.length + 8);
        const view = backing.subarray(pad, pad + data.length);
        view.set(data);
        expect(checksum(view)).toBe(reference(data));
      }),
    );
  });

  it("a buffer with its checksum inserted sums to zero (receive-side verification)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 1500 }), (data) => {
        const b = data.slice();
        b[0] = 0;
        b[1] = 0;
        const c = checksum(b);
        b[0] = c >> 8;
        b[1] = c & 0xff;
        expect(checksum(b)).toBe(0);
      }),
    );
  });

  it("RFC 1624 incremental update equals a full recompute after one 16-bit word changes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffff }),
        (data, at, next) => {
          const b = data.length % 2 === 0 ? data.slice() : data.slice(0, -1);
          const i = (at % (b.length / 2)) * 2;
          const before = checksum(b);
          const old = (b[i] << 8) | b[i + 1];
          b[i] = next >> 8;
          b[i + 1] = next & 0xff;
          const full = checksum(b);
          const inc = adjust(before, old, next);
          // ±0 are the same value in one's complement; RFC 1624 never produces 0xFFFF from a nonzero sum.
          expect(inc === full || (inc ^ full) === 0xffff).toBe(true);
        },
      ),
    );
  });
});
