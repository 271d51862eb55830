/**
 * The addon's transport AEAD (native/aead.cc): RFC 8439 App. A.5 (its nonce is a WireGuard
 * nonce), agreement with node:crypto's ChaCha20-Poly1305 on random inputs (an independent
 * binding of the same primitive), in-place operation, forgeries refused and zeroed, bad
 * arguments refused with a TypeError.
 */
import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nativeAead } from "../src/internal.js";

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

// RFC 8439 App. A.5: nonce 00000000‖0102030405060708 = WireGuard's nonce with this counter.
const A5 = {
  key: unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"),
  counter: 0x0807060504030201n,
  aad: unhex("f33388860000000000004e91"),
  sealed: unhex(`
    64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2
    4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf
    332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
    9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4
    b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e
    af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
    0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10
    49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29
    a6ad5cb4022b02709b eead9d67890cbb22392336fea1851f38`),
  plaintext: unhex(`
    496e7465726e65742d4472616674732061726520647261667420646f63756d65
    6e74732076616c696420666f722061206d6178696d756d206f6620736978206d
    6f6e74687320616e64206d617920626520757064617465642c207265706c6163
    65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65
    6e747320617420616e792074696d652e20497420697320696e617070726f7072
    6961746520746f2075736520496e7465726e65742d4472616674732061732072
    65666572656e6365206d6174657269616c206f7220746f206369746520746865
    6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67
    726573732e2fe2809d`),
};

/** node:crypto's seal with WireGuard's nonce, the independent reference. */
function reference(key: Uint8Array, counter: bigint, pt: Uint8Array, aad: Uint8Array | null) {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  if (aad !== null) c.setAAD(aad, { plaintextLength: pt.length });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

describe.skipIf(process.platform !== "linux")("native transport AEAD (OpenSSL)", () => {
  const aead = nativeAead();

  it("loads with the addon", () => {
    expect(aead).not.toBeNull();
  });

  it("matches RFC 8439 App. A.5 both ways", () => {
    const a = aead!;
    const out = new Uint8Array(A5.plaintext.length + 16);
    expect(a.aeadSeal(A5.key, A5.counter, A5.plaintext, A5.aad, out, 0)).toBe(out.length);
    expect(Buffer.from(out).equals(Buffer.from(A5.sealed))).toBe(true);
    const back = new Uint8Array(A5.plaintext.length + 3);
    expect(a.aeadOpen(A5.key, A5.counter, A5.sealed, A5.aad, back, 3)).toBe(A5.plaintext.length);
    expect(Buffer.from(back.subarray(3)).equals(Buffer.from(A5.plaintext))).toBe(true);
  });

  it("agrees with node:crypto, in place too, and refuses every one-bit forgery", () => {
    const a = aead!;
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.uint8Array({ maxLength: 1500 }),
        fc.option(fc.uint8Array({ maxLength: 64 }), { nil: null }),
        fc.nat(),
        (key, counter, pt, aad, flip) => {
          const want = reference(key, counter, pt, aad);
          const out = new Uint8Array(pt.length + 16);
          expect(a.aeadSeal(key, counter, pt, aad, out, 0)).toBe(want.length);
          expect(Buffer.from(out).equals(want)).toBe(true);
          const inPlace = new Uint8Array(pt.length + 16);
          inPlace.set(pt);
          a.aeadSeal(key, counter, inPlace.subarray(0, pt.length), aad, inPlace, 0);
          expect(Buffer.from(inPlace).equals(want)).toBe(true);
          // Opened in place as well: the plaintext lands where the ciphertext was.
          expect(a.aeadOpen(key, counter, inPlace, aad, inPlace, 0)).toBe(pt.length);
          expect(Buffer.from(inPlace.subarray(0, pt.length)).equals(Buffer.from(pt))).toBe(true);
          const forged = Uint8Array.from(want);
          const bit = flip % (forged.length * 8);
          forged[bit >> 3] ^= 1 << (bit & 7);
          const sink = new Uint8Array(pt.length).fill(0xaa);
          expect(a.aeadOpen(key, counter, forged, aad, sink, 0)).toBe(-1);
          expect(sink.every((b) => b === 0)).toBe(true);
          expect(a.aeadOpen(key, counter ^ 1n, want, aad, sink, 0)).toBe(-1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("answers a message shorter than a tag with -1 and bad arguments with a TypeError", () => {
    const a = aead!;
    const key = new Uint8Array(32);
    expect(a.aeadOpen(key, 0n, new Uint8Array(15), null, new Uint8Array(16), 0)).toBe(-1);
    const out = new Uint8Array(32);
    expect(() => a.aeadSeal(new Uint8Array(31), 0n, new Uint8Array(4), null, out, 0)).toThrow(
      TypeError,
    );
    expect(() => a.aeadSeal(key, -1n, new Uint8Array(4), null, out, 0)).toThrow(TypeError);
    expect(() => a.aeadSeal(key, 2n ** 64n, new Uint8Array(4), null, out, 0)).toThrow(TypeError);
    expect(() => a.aeadSeal(key, 0n, new Uint8Array(17), null, out, 0)).toThrow(TypeError);
    expect(() => a.aeadSeal(key, 0n, new Uint8Array(4), null, out, 29)).toThrow(TypeError);
    expect(() => a.aeadOpen(key, 0n, new Uint8Array(40), null, out, 9)).toThrow(TypeError);
    expect(() => a.aeadSeal(key, 0 as unknown as bigint, new Uint8Array(4), null, out, 0)).toThrow(
      TypeError,
    );
  });
});
