import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeEndpoint } from "../src/kubespan/affiliate.js";
import {
  clusterSecretKey,
  openAffiliateData,
  openEndpoint,
  sealAffiliateData,
  sealEndpoint,
} from "../src/kubespan/discovery-crypto.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
const key = new Uint8Array(32).map((_, i) => i);

describe("affiliate data: AES-256-GCM, nonce ‖ ciphertext ‖ tag (reference §2.2)", () => {
  it("matches the GCM spec's AES-256 test cases 13 and 14 (McGrew & Viega)", () => {
    const zeroKey = new Uint8Array(32);
    const zeroNonce = new Uint8Array(12);
    expect(
      Buffer.from(sealAffiliateData(zeroKey, new Uint8Array(0), zeroNonce)).toString("hex"),
    ).toBe(`${"00".repeat(12)}530f8afbc74536b9a963b4f1c4cb738b`);
    expect(
      Buffer.from(sealAffiliateData(zeroKey, new Uint8Array(16), zeroNonce)).toString("hex"),
    ).toBe(`${"00".repeat(12)}cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919`);
  });

  it("round-trips with a fresh nonce each time; overhead is 28 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2020 }), (plain) => {
        const a = sealAffiliateData(key, plain);
        const b = sealAffiliateData(key, plain);
        expect(a.length).toBe(plain.length + 28);
        expect(Buffer.from(a.subarray(0, 12)).equals(Buffer.from(b.subarray(0, 12)))).toBe(false);
        expect(openAffiliateData(key, a)).toEqual(plain);
      }),
      { numRuns: 50 },
    );
  });

  it("detects tampering anywhere, a wrong key, and short blobs", () => {
    const blob = sealAffiliateData(key, new TextEncoder().encode("affiliate"));
    for (let i = 0; i < blob.length; i++) {
      const t = Uint8Array.from(blob);
      t[i] ^= 0x01;
      expect(openAffiliateData(key, t)).toBeNull();
    }
    expect(openAffiliateData(new Uint8Array(32).fill(9), blob)).toBeNull();
    expect(openAffiliateData(key, blob.subarray(0, 27))).toBeNull();
    expect(openAffiliateData(key, new Uint8Array(0))).toBeNull();
  });
});

describe("endpoints: length byte, zero padding, AES-256-ECB (reference §2.3)", () => {
  it("uses plain AES-256 per block (NIST SP 800-38A F.1.5 ECB-AES256 block 1)", () => {
    const k = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    const c = createCipheriv("aes-256-ecb", k, null);
    c.setAutoPadding(false);
    const ct = Buffer.concat([c.update(hex("6bc1bee22e409f96e93d7e117393172a")), c.final()]);
    expect(ct.toString("hex")).toBe("f3eed1bdb5d2a03c064b5a7e3db181f8");
    // The length byte 0x6b (107) points past the 15 bytes left: rejected, not a crash.
    expect(openEndpoint(k, ct)).toBeNull();
  });

  it("lays out [len][message][zeros] and encrypts each block independently", () => {
    const message = encodeEndpoint("198.18.0.1:51820");
    // Endpoint{ip=c6120001, port=51820}: 0a 04 c6 12 00 01 10 ec 94 03 (10 bytes).
    expect(Buffer.from(message).toString("hex")).toBe("0a04c612000110ec9403");
    const padded = hex(`0a0a04c612000110ec9403${"00".repeat(5)}`);
    const c = createCipheriv("aes-256-ecb", key, null);
    c.setAutoPadding(false);
    const expected = Buffer.concat([c.update(padded), c.final()]);
    expect(Buffer.from(sealEndpoint(key, message)).equals(expected)).toBe(true);
  });

  it("is deterministic and sized 16 (IPv4) / 32 (IPv6) bytes", () => {
    const v4 = sealEndpoint(key, encodeEndpoint("198.18.0.1:51820"));
    const v6 = sealEndpoint(key, encodeEndpoint("[fd00::1]:51820"));
    expect(v4.length).toBe(16);
    expect(v6.length).toBe(32);
    expect(sealEndpoint(key, encodeEndpoint("198.18.0.1:51820"))).toEqual(v4);
    expect(sealEndpoint(key, encodeEndpoint("198.18.0.2:51820"))).not.toEqual(v4);
  });

  it("round-trips any message up to 255 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 255 }), (m) => {
        const blob = sealEndpoint(key, m);
        expect(blob.length % 16).toBe(0);
        expect(openEndpoint(key, blob)).toEqual(m);
      }),
      { numRuns: 100 },
    );
  });

  it("rejects blobs that are empty or not a multiple of 16", () => {
    expect(openEndpoint(key, new Uint8Array(0))).toBeNull();
    expect(openEndpoint(key, new Uint8Array(17))).toBeNull();
  });
});

describe("cluster secret", () => {
  it("decodes base64 of 32 bytes and refuses anything else", () => {
    const secret = Buffer.from(key).toString("base64");
    expect(clusterSecretKey(secret)).toEqual(key);
    expect(() => clusterSecretKey(Buffer.alloc(16).toString("base64"))).toThrow(/32 bytes/);
    expect(() => clusterSecretKey("not base64!")).toThrow(/base64/);
  });
});
