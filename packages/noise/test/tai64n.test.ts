import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareTai64n, TAI64N_LENGTH, tai64n } from "../src/tai64n.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const GRANULE = 1n << 24n; // whitening: 2^24 ns, the largest power of two ≤ 1e9/50
const ns = fc.bigInt({ min: 0n, max: 10n ** 19n }); // up to year ~2286

describe("tai64n", () => {
  it("encodes a known time: label 2^62 + 10 + seconds, whitened nanoseconds, big-endian", () => {
    // 1700000000 s = 0x6553f100, + 10 = 0x6553f10a; 123456789 ns rounds down to 7 × 2^24.
    const stamp = tai64n(1_700_000_000_123_456_789n);
    expect(stamp.length).toBe(TAI64N_LENGTH);
    expect(hex(stamp)).toBe("400000006553f10a07000000");
  });

  it("encodes the Unix epoch as wireguard-go's base 4611686018427387914 (2^62 + 10)", () => {
    const stamp = tai64n(0n);
    expect(new DataView(stamp.buffer).getBigUint64(0, false)).toBe(4611686018427387914n);
    expect(hex(stamp.subarray(8))).toBe("00000000");
  });

  it("whitening keeps nanoseconds within one 2^24 ns granule below the real value", () => {
    fc.assert(
      fc.property(ns, (t) => {
        const field = BigInt(new DataView(tai64n(t).buffer).getUint32(8, false));
        expect(field % GRANULE).toBe(0n);
        expect(field <= t % 1_000_000_000n).toBe(true);
        expect((t % 1_000_000_000n) - field < GRANULE).toBe(true);
      }),
    );
  });

  it("stamps within one granule are identical; drops the fine timing", () => {
    const base = 1_700_000_000n * 1_000_000_000n + 5n * GRANULE;
    expect(hex(tai64n(base))).toBe(hex(tai64n(base + GRANULE - 1n)));
    expect(compareTai64n(tai64n(base), tai64n(base + GRANULE))).toBeLessThan(0);
  });

  it("is monotonic: later times never compare earlier, and a granule apart compare later", () => {
    fc.assert(
      fc.property(ns, fc.bigInt({ min: 0n, max: 10n ** 12n }), (t, delta) => {
        const c = compareTai64n(tai64n(t), tai64n(t + delta));
        expect(c).toBeLessThanOrEqual(0);
        if (delta >= GRANULE) expect(c).toBeLessThan(0);
      }),
    );
  });

  it("carries nanoseconds into seconds correctly at a second boundary", () => {
    const justBefore = tai64n(1_999_999_999n);
    const at = tai64n(2_000_000_000n);
    expect(compareTai64n(justBefore, at)).toBeLessThan(0);
    // 1.999999999 s: label 2^62 + 11, 999999999 ns whitened to 59 × 2^24 = 0x3b000000.
    expect(hex(justBefore)).toBe("400000000000000b3b000000");
    expect(hex(at)).toBe("400000000000000c00000000");
  });

  it("rejects times before 1970", () => {
    expect(() => tai64n(-1n)).toThrow(RangeError);
  });
});

describe("compareTai64n", () => {
  it("orders byte-wise big-endian and is antisymmetric", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        (a, b) => {
          const ab = compareTai64n(a, b);
          expect(Math.sign(ab)).toBe(-Math.sign(compareTai64n(b, a)));
          expect(ab === 0).toBe(hex(a) === hex(b));
          expect(Math.sign(ab)).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
        },
      ),
    );
  });
});
