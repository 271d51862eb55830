/**
 * The hand-written BLAKE2s (src/crypto/blake2s.ts): published vectors, then agreement with two
 * independent implementations (noble and node:crypto/OpenSSL) on random inputs split into random
 * parts, around every block boundary.
 */
import { createHash, createHmac } from "node:crypto";
import { blake2s as nobleBlake2s } from "@noble/hashes/blake2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { blake2s, blake2sKeyed, hmacBlake2s } from "../src/crypto/blake2s.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const seq = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i & 0xff);

/**
 * Keyed BLAKE2s-256 known answers: key 00 01 … 1f, input 00 01 … (n−1). Source: the BLAKE2
 * reference package, github.com/BLAKE2/BLAKE2 testvectors/blake2s-test.txt (commit a976a0ab).
 * Lengths chosen around block boundaries (the key fills block 1) and WireGuard's MAC inputs
 * (116 B: initiation up to mac1; 132 B: initiation up to mac2).
 */
const REFERENCE_KEYED_KAT: Array<[number, string]> = [
  [0, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49"],
  [1, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1"],
  [2, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803"],
  [3, "1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b"],
  [31, "b6156f72d380ee9ea6acd190464f2307a5c179ef01fd71f99f2d0f7a57360aea"],
  [32, "c03bc642b20959cbe133a0303e0c1abff3e31ec8e1a328ec8565c36decff5265"],
  [63, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd"],
  [64, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4"],
  [65, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8"],
  [116, "77ac012a3f754dcfeab5eb996be9cd2d1f96111b6e49f3994df181f28569d825"],
  [127, "ddbfea75cc467882eb3483ce5e2e756a4f4701b76b445519e89f22d60fa86e06"],
  [128, "0c311f38c35a4fb90d651c289d486856cd1413df9b0677f53ece2cd9e477c60a"],
  [129, "46a73a8dd3e70f59d3942c01df599def783c9da82fd83222cd662b53dce7dbdf"],
  [132, "1fffda67932b73c8ecaf009a3491a026953babfe1f663b0697c3c4ae8b2e7dcb"],
];

/** Splits `data` at the given cut points (sorted, clamped) into parts, keeping empty parts. */
function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    parts.push(data.subarray(at, p));
    at = p;
  }
  parts.push(data.subarray(at));
  return parts;
}

const message = fc.uint8Array({ maxLength: 300 });
const cuts = fc.array(fc.nat(), { maxLength: 4 });

describe("BLAKE2s published vectors", () => {
  it('hashes "abc" as RFC 7693 App. B', () => {
    expect(hex(blake2s([ascii("abc")]))).toBe(
      "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
    );
  });

  for (const [length, digest] of REFERENCE_KEYED_KAT) {
    it(`keyed KAT of the BLAKE2 reference package, ${length}-byte input`, () => {
      const input = seq(length);
      expect(hex(blake2sKeyed(seq(32), [input], 32))).toBe(digest);
      // The same input in byte-sized and uneven parts.
      expect(hex(blake2sKeyed(seq(32), split(input, [1, 7, 64, 65]), 32))).toBe(digest);
    });
  }
});

describe("BLAKE2s agrees with noble and node:crypto", () => {
  it("HASH (BLAKE2s-256) of any parts equals both over their concatenation", () => {
    fc.assert(
      fc.property(message, cuts, (data, at) => {
        const got = hex(blake2s(split(data, at)));
        expect(got).toBe(hex(nobleBlake2s(data)));
        expect(got).toBe(createHash("blake2s256").update(data).digest("hex"));
      }),
      { numRuns: 400 },
    );
  });

  it("keyed BLAKE2s of any key (0–32 B) and digest length (1–32 B) equals noble", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 32 }),
        fc.integer({ min: 1, max: 32 }),
        message,
        cuts,
        (key, outLength, data, at) => {
          const got = blake2sKeyed(key, split(data, at), outLength);
          expect(got.length).toBe(outLength);
          const want = nobleBlake2s(
            data,
            key.length === 0 ? { dkLen: outLength } : { key, dkLen: outLength },
          );
          expect(hex(got)).toBe(hex(want));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("HMAC-BLAKE2s of any key (0–100 B, hashed beyond a block) equals node:crypto", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), message, cuts, (key, data, at) => {
        const want = createHmac("blake2s256", key).update(data).digest("hex");
        expect(hex(hmacBlake2s(key, split(data, at)))).toBe(want);
      }),
      { numRuns: 400 },
    );
  });
});

describe("BLAKE2s inputs and errors", () => {
  it("never modifies its inputs", () => {
    const key = seq(32);
    const data = seq(150);
    for (const run of [
      () => blake2s([data, key]),
      () => blake2sKeyed(key, [data], 16),
      () => hmacBlake2s(key, [data]),
    ]) {
      run();
      expect(key).toEqual(seq(32));
      expect(data).toEqual(seq(150));
    }
  });

  it("calls in between do not disturb each other (shared scratch)", () => {
    const key = seq(32);
    const data = seq(100);
    const want = [
      hex(blake2s([data])),
      hex(blake2sKeyed(key, [data], 16)),
      hex(hmacBlake2s(key, [data])),
    ];
    for (let i = 0; i < 3; i++) {
      expect(hex(hmacBlake2s(key, [data]))).toBe(want[2]);
      expect(hex(blake2s([data]))).toBe(want[0]);
      expect(hex(blake2sKeyed(key, [data], 16))).toBe(want[1]);
    }
  });

  it("returns a fresh array per call", () => {
    const a = blake2s([ascii("abc")]);
    const b = blake2s([ascii("abc")]);
    expect(a).not.toBe(b);
    a.fill(0);
    expect(hex(b)).toBe(hex(blake2s([ascii("abc")])));
  });

  it("rejects keys longer than 32 bytes and digest lengths outside 1–32", () => {
    expect(() => blake2sKeyed(new Uint8Array(33), [], 16)).toThrow(RangeError);
    expect(() => blake2sKeyed(seq(32), [], 0)).toThrow(RangeError);
    expect(() => blake2sKeyed(seq(32), [], 33)).toThrow(RangeError);
  });
});
