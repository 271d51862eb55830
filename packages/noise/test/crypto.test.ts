/**
 * Every CryptoProvider runs the same table: published vectors, WireGuard's constants, failure
 * behaviour, and agreement with the portable (noble) provider on random inputs.
 */
import { readFileSync } from "node:fs";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { blake2s } from "@noble/hashes/blake2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createNodeCrypto, nodeCrypto } from "../src/crypto/node.js";
import { portableCrypto } from "../src/crypto/portable.js";
import type { CryptoProvider } from "../src/crypto/provider.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const seq = (start: number, length: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);

const nodeWithoutSodium = createNodeCrypto({ sodium: false });
const providers: CryptoProvider[] = [portableCrypto, nodeCrypto, nodeWithoutSodium];

/** WireGuard's AEAD nonce built by hand (whitepaper §5.4.6): 4 zero bytes ‖ u64 LE counter. */
function handNonce(counter: bigint): Uint8Array {
  const n = new Uint8Array(12);
  for (let i = 0; i < 8; i++) n[4 + i] = Number((counter >> BigInt(8 * i)) & 0xffn);
  return n;
}

// RFC 8439 §2.8.2 and draft-irtf-cfrg-xchacha-03 §A.3.1 share this plaintext, key and AAD.
const SUNSCREEN = ascii(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const KEY_80 = seq(0x80, 32);
const AAD_2_8_2 = unhex("50515253c0c1c2c3c4c5c6c7");

// RFC 8439 App. A.5: its nonce 00000000‖0102030405060708 is a WireGuard nonce with this counter.
const A5 = {
  key: unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0"),
  counter: 0x0807060504030201n,
  aad: unhex("f33388860000000000004e91"),
  ciphertext: unhex(`
    64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2
    4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf
    332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
    9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4
    b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e
    af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
    0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10
    49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29
    a6ad5cb4022b02709b`),
  tag: unhex("eead9d67890cbb22392336fea1851f38"),
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

// RFC 7748 §5.2 scalar multiplication vectors (vector 2's u has its top bit set: it must be
// masked) and the first iteration of the iterated vector (k = u = 9).
const X25519_5_2 = [
  [
    "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  ],
  [
    "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
    "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
  ],
  [
    "0900000000000000000000000000000000000000000000000000000000000000",
    "0900000000000000000000000000000000000000000000000000000000000000",
    "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
  ],
];
// RFC 7748 §6.1.
const ALICE_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const ALICE_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_PRIVATE = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const BOB_PUBLIC = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const ALICE_BOB_SHARED = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/**
 * Low-order u-coordinates of Curve25519 and their non-canonical encodings (the blocklist of
 * libsodium and Wycheproof's x25519 "low order" cases): 0, 1, the two order-8 points, p−1, p, p+1.
 * For a clamped scalar each gives an all-zero shared secret.
 */
const LOW_ORDER_POINTS = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/** HMAC (RFC 2104) over a provider's BLAKE2s-256, block 64 bytes: an independent construction. */
function hmacByHand(c: CryptoProvider, key: Uint8Array, message: Uint8Array): Uint8Array {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? c.hash(key) : key);
  const ipad = block.map((b) => b ^ 0x36);
  const opad = block.map((b) => b ^ 0x5c);
  return c.hash(opad, c.hash(ipad, message));
}

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const key32 = bytes(32, 32);
const counter64 = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });

it("the default node provider uses sodium-native when installed", () => {
  // sodium-native is installed in this repository, so the default must pick it up.
  expect(nodeCrypto.name).toBe("node+sodium");
  expect(nodeWithoutSodium.name).toBe("node");
  expect(portableCrypto.name).toBe("portable");
});

it("the portable provider and the KDF import nothing runtime-specific", () => {
  for (const file of ["portable.ts", "kdf.ts", "provider.ts", "../tai64n.ts"]) {
    const source = readFileSync(new URL(`../src/crypto/${file}`, import.meta.url), "utf8");
    expect(source).not.toMatch(/from\s+"node:|require\(|\bBuffer\b/);
  }
});

it("noble (the cross-check reference) reproduces RFC 8439 §2.8.2", () => {
  // The RFC's nonce 07000000‖4041…47 has a non-zero first word, which WireGuard's nonce layout
  // cannot express; the providers are tied to this reference by the nonce-layout test below.
  const sealed = chacha20poly1305(KEY_80, unhex("070000004041424344454647"), AAD_2_8_2).encrypt(
    SUNSCREEN,
  );
  expect(hex(sealed)).toBe(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
      "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7" +
      "bc3ff4def08e4b7a9de576d26586cec64b6116" +
      "1ae10b594f09e26a7e902ecbd0600691",
  );
});

describe.each(providers)("CryptoProvider $name", (c) => {
  describe("ChaCha20-Poly1305 (RFC 8439)", () => {
    it("opens RFC 8439 App. A.5 (its nonce is 4 zero bytes ‖ u64 LE counter)", () => {
      const sealed = new Uint8Array([...A5.ciphertext, ...A5.tag]);
      const out = new Uint8Array(A5.plaintext.length);
      expect(c.open(A5.key, A5.counter, sealed, A5.aad, out, 0)).toBe(A5.plaintext.length);
      expect(hex(out)).toBe(hex(A5.plaintext));
    });

    it("seals RFC 8439 App. A.5's plaintext to its ciphertext and tag", () => {
      const out = new Uint8Array(A5.plaintext.length + 16);
      expect(c.seal(A5.key, A5.counter, A5.plaintext, A5.aad, out, 0)).toBe(out.length);
      expect(hex(out)).toBe(hex(A5.ciphertext) + hex(A5.tag));
    });

    for (const counter of [0n, 1n, 1n << 32n, 0xffff_ffff_ffff_ffffn]) {
      it(`puts counter ${counter} in the nonce as 4 zero bytes ‖ u64 LE`, () => {
        const out = new Uint8Array(SUNSCREEN.length + 16);
        c.seal(KEY_80, counter, SUNSCREEN, AAD_2_8_2, out, 0);
        const expected = chacha20poly1305(KEY_80, handNonce(counter), AAD_2_8_2).encrypt(SUNSCREEN);
        expect(hex(out)).toBe(hex(expected));
      });
    }

    it("rejects counters outside u64", () => {
      const out = new Uint8Array(32);
      expect(() => c.seal(KEY_80, -1n, seq(0, 16), null, out, 0)).toThrow(RangeError);
      expect(() => c.seal(KEY_80, 1n << 64n, seq(0, 16), null, out, 0)).toThrow(RangeError);
    });

    it("fails authentication when any bit of ciphertext, tag or AAD is flipped", () => {
      const plaintext = seq(1, 8);
      const aad = seq(9, 4);
      const sealed = new Uint8Array(plaintext.length + 16);
      c.seal(KEY_80, 42n, plaintext, aad, sealed, 0);
      const out = new Uint8Array(plaintext.length);
      expect(c.open(KEY_80, 42n, sealed, aad, out, 0)).toBe(plaintext.length);
      for (let bit = 0; bit < sealed.length * 8; bit++) {
        const bad = sealed.slice();
        bad[bit >> 3] ^= 1 << (bit & 7);
        expect(c.open(KEY_80, 42n, bad, aad, out, 0)).toBe(-1);
      }
      for (let bit = 0; bit < aad.length * 8; bit++) {
        const badAad = aad.slice();
        badAad[bit >> 3] ^= 1 << (bit & 7);
        expect(c.open(KEY_80, 42n, sealed, badAad, out, 0)).toBe(-1);
      }
      expect(c.open(KEY_80, 43n, sealed, aad, out, 0)).toBe(-1);
      expect(c.open(seq(0, 32), 42n, sealed, aad, out, 0)).toBe(-1);
      expect(c.open(KEY_80, 42n, sealed, null, out, 0)).toBe(-1);
    });

    it("returns -1 for ciphertexts shorter than a tag", () => {
      const out = new Uint8Array(16);
      for (let n = 0; n < 16; n++) expect(c.open(KEY_80, 0n, seq(0, n), null, out, 0)).toBe(-1);
    });

    it("seals and opens an empty plaintext (WireGuard keepalive)", () => {
      const sealed = new Uint8Array(16);
      expect(c.seal(KEY_80, 7n, new Uint8Array(0), null, sealed, 0)).toBe(16);
      expect(c.open(KEY_80, 7n, sealed, null, new Uint8Array(0), 0)).toBe(0);
    });

    it("seals and opens in place (output over the input's own bytes)", () => {
      const plaintext = seq(7, 300);
      const buf = new Uint8Array(400);
      buf.set(plaintext, 16);
      const expected = new Uint8Array(316);
      c.seal(KEY_80, 9n, plaintext, AAD_2_8_2, expected, 0);
      expect(c.seal(KEY_80, 9n, buf.subarray(16, 316), AAD_2_8_2, buf, 16)).toBe(316);
      expect(hex(buf.subarray(16, 332))).toBe(hex(expected));
      expect(c.open(KEY_80, 9n, buf.subarray(16, 332), AAD_2_8_2, buf, 16)).toBe(300);
      expect(hex(buf.subarray(16, 316))).toBe(hex(plaintext));
    });

    it("writes only its own range of `out`", () => {
      const plaintext = seq(3, 100);
      const out = new Uint8Array(200).fill(0xaa);
      expect(c.seal(KEY_80, 5n, plaintext, null, out, 16)).toBe(116);
      expect(out.subarray(0, 16).every((b) => b === 0xaa)).toBe(true);
      expect(out.subarray(132).every((b) => b === 0xaa)).toBe(true);
      const back = new Uint8Array(150).fill(0xbb);
      expect(c.open(KEY_80, 5n, out.subarray(16, 132), null, back, 20)).toBe(100);
      expect(hex(back.subarray(20, 120))).toBe(hex(plaintext));
      expect(back.subarray(0, 20).every((b) => b === 0xbb)).toBe(true);
      expect(back.subarray(120).every((b) => b === 0xbb)).toBe(true);
    });
  });

  describe("XChaCha20-Poly1305", () => {
    const nonce = seq(0x40, 24);
    const expected =
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39" +
      "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
      "21f9664c97637da9768812f615c68b13b52e" +
      "c0875924c1c7987947deafd8780acf49";

    it("matches draft-irtf-cfrg-xchacha-03 App. A.3.1", () => {
      expect(hex(c.xseal(KEY_80, nonce, SUNSCREEN, AAD_2_8_2))).toBe(expected);
      expect(hex(c.xopen(KEY_80, nonce, unhex(expected), AAD_2_8_2)!)).toBe(hex(SUNSCREEN));
    });

    it("returns null on a flipped bit, wrong AAD or short input", () => {
      const sealed = unhex(expected);
      for (const i of [0, 50, sealed.length - 1]) {
        const bad = sealed.slice();
        bad[i] ^= 0x01;
        expect(c.xopen(KEY_80, nonce, bad, AAD_2_8_2)).toBeNull();
      }
      expect(c.xopen(KEY_80, nonce, sealed, new Uint8Array(0))).toBeNull();
      expect(c.xopen(KEY_80, nonce, seq(0, 15), AAD_2_8_2)).toBeNull();
    });
  });

  describe("X25519 (RFC 7748)", () => {
    for (const [scalar, u, result] of X25519_5_2) {
      it(`matches §5.2 for scalar ${scalar.slice(0, 8)}…`, () => {
        expect(hex(c.x25519(unhex(scalar), unhex(u))!)).toBe(result);
      });
    }

    it("matches the §6.1 Alice/Bob exchange", () => {
      expect(hex(c.x25519PublicKey(unhex(ALICE_PRIVATE)))).toBe(ALICE_PUBLIC);
      expect(hex(c.x25519PublicKey(unhex(BOB_PRIVATE)))).toBe(BOB_PUBLIC);
      expect(hex(c.x25519(unhex(ALICE_PRIVATE), unhex(BOB_PUBLIC))!)).toBe(ALICE_BOB_SHARED);
      expect(hex(c.x25519(unhex(BOB_PRIVATE), unhex(ALICE_PUBLIC))!)).toBe(ALICE_BOB_SHARED);
    });

    for (const point of LOW_ORDER_POINTS) {
      it(`returns null for the low-order point ${point.slice(0, 8)}…`, () => {
        expect(c.x25519(unhex(ALICE_PRIVATE), unhex(point))).toBeNull();
      });
    }

    it("returns null for a peer key of the wrong length", () => {
      expect(c.x25519(unhex(ALICE_PRIVATE), unhex(BOB_PUBLIC).subarray(0, 31))).toBeNull();
    });

    it("throws a clear error for a private key of the wrong length", () => {
      expect(() => c.x25519PublicKey(new Uint8Array(31))).toThrow(/32 bytes/);
    });
  });

  describe("BLAKE2s (RFC 7693)", () => {
    it('hashes "abc" as in RFC 7693 App. B', () => {
      expect(hex(c.hash(ascii("abc")))).toBe(
        "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982",
      );
    });

    it("hashes the concatenation of its parts", () => {
      expect(hex(c.hash(ascii("a"), ascii(""), ascii("bc")))).toBe(hex(c.hash(ascii("abc"))));
    });

    it("reproduces WireGuard's construction and identifier hashes (reference §3)", () => {
      const ck = c.hash(ascii("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"));
      expect(hex(ck)).toBe("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
      expect(hex(c.hash(ck, ascii("WireGuard v1 zx2c4 Jason@zx2c4.com")))).toBe(
        "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3",
      );
    });

    it("keyed BLAKE2s-128 (MAC) equals noble's blake2s with key and dkLen 16", () => {
      fc.assert(
        fc.property(bytes(1, 32), bytes(0, 300), fc.nat(300), (key, msg, cut) => {
          const at = Math.min(cut, msg.length);
          const mac = c.mac(key, msg.subarray(0, at), msg.subarray(at));
          expect(mac.length).toBe(16);
          expect(hex(mac)).toBe(hex(blake2s(msg, { key, dkLen: 16 })));
        }),
        { numRuns: 200 },
      );
    });

    it("HMAC-BLAKE2s equals RFC 2104 built by hand over BLAKE2s-256", () => {
      fc.assert(
        fc.property(bytes(0, 100), bytes(0, 200), (key, msg) => {
          expect(hex(c.hmac(key, msg))).toBe(hex(hmacByHand(c, key, msg)));
        }),
        { numRuns: 200 },
      );
    });
  });

  it("returns fresh random bytes of the requested length", () => {
    const a = c.randomBytes(32);
    const b = c.randomBytes(32);
    expect(a.length).toBe(32);
    expect(hex(a)).not.toBe(hex(b));
    expect(c.randomBytes(0).length).toBe(0);
    expect(c.randomBytes(70_000).length).toBe(70_000);
  });

  it("never repeats or shares random bytes across many small requests (pool refills)", () => {
    // 12 KiB in requests of the handshake's sizes: crosses the node provider's 4 KiB pool refill.
    const seen = new Set<string>();
    const all: Uint8Array[] = [];
    for (let i = 0; i < 1000; i++) {
      for (const n of [2, 4, 32]) {
        const r = c.randomBytes(n);
        expect(r.length).toBe(n);
        if (n === 32) seen.add(hex(r));
        all.push(r);
      }
    }
    expect(seen.size).toBe(1000);
    // Each result owns its bytes: zeroing one leaves the others as they were.
    const copy = all.map((r) => hex(r));
    for (let i = 0; i < all.length; i += 2) all[i].fill(0);
    for (let i = 1; i < all.length; i += 2) expect(hex(all[i])).toBe(copy[i]);
    // Not all zero: over 1000 32-byte values, every byte position takes several values.
    for (let at = 0; at < 32; at++) {
      const values = new Set(all.filter((r) => r.length === 32).map((r) => r[at]));
      expect(values.size).toBeGreaterThan(100);
    }
  });
});

describe.each(providers.filter((p) => p !== portableCrypto))(
  "$name agrees with portable on random inputs",
  (c) => {
    const p = portableCrypto;

    it("seal/open at offsets into larger buffers", () => {
      fc.assert(
        fc.property(
          key32,
          counter64,
          bytes(0, 1500),
          fc.option(bytes(0, 64)),
          fc.nat(40),
          (key, counter, plaintext, aad, offset) => {
            const length = plaintext.length + 16;
            const outC = new Uint8Array(offset + length + 7);
            const outP = new Uint8Array(offset + length + 7);
            expect(c.seal(key, counter, plaintext, aad, outC, offset)).toBe(length);
            expect(p.seal(key, counter, plaintext, aad, outP, offset)).toBe(length);
            expect(hex(outC)).toBe(hex(outP));
            const sealed = outC.subarray(offset, offset + length);
            const back = new Uint8Array(plaintext.length + offset + 3);
            expect(c.open(key, counter, sealed, aad, back, offset)).toBe(plaintext.length);
            expect(hex(back.subarray(offset, offset + plaintext.length))).toBe(hex(plaintext));
          },
        ),
        { numRuns: 150 },
      );
    });

    it("xseal/xopen", () => {
      fc.assert(
        fc.property(key32, bytes(24, 24), bytes(0, 64), bytes(0, 64), (key, nonce, msg, aad) => {
          const sealed = c.xseal(key, nonce, msg, aad);
          expect(hex(sealed)).toBe(hex(p.xseal(key, nonce, msg, aad)));
          expect(hex(p.xopen(key, nonce, sealed, aad)!)).toBe(hex(msg));
          expect(hex(c.xopen(key, nonce, sealed, aad)!)).toBe(hex(msg));
        }),
        { numRuns: 100 },
      );
    });

    it("X25519 public keys and shared secrets", () => {
      fc.assert(
        fc.property(key32, key32, (a, b) => {
          const pubA = c.x25519PublicKey(a);
          const pubB = c.x25519PublicKey(b);
          expect(hex(pubA)).toBe(hex(p.x25519PublicKey(a)));
          const shared = c.x25519(a, pubB);
          expect(shared).not.toBeNull();
          expect(hex(shared!)).toBe(hex(p.x25519(a, pubB)!));
          expect(hex(c.x25519(b, pubA)!)).toBe(hex(shared!));
        }),
        { numRuns: 25 },
      );
    });

    it("X25519 on arbitrary peer bytes (including non-canonical and high-bit u)", () => {
      fc.assert(
        fc.property(key32, key32, (a, u) => {
          const ours = c.x25519(a, u);
          const ref = p.x25519(a, u);
          expect(ours === null ? null : hex(ours)).toBe(ref === null ? null : hex(ref));
        }),
        { numRuns: 25 },
      );
    });

    it("hash, mac and hmac over several parts", () => {
      fc.assert(
        fc.property(bytes(0, 100), fc.array(bytes(0, 80), { maxLength: 4 }), (key, parts) => {
          expect(hex(c.hash(...parts))).toBe(hex(p.hash(...parts)));
          expect(hex(c.hmac(key, ...parts))).toBe(hex(p.hmac(key, ...parts)));
          const macKey = key.length === 0 ? seq(0, 32) : key.subarray(0, 32);
          expect(hex(c.mac(macKey, ...parts))).toBe(hex(p.mac(macKey, ...parts)));
        }),
        { numRuns: 200 },
      );
    });
  },
);
