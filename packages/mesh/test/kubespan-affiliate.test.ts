import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AffiliateData,
  decodeAffiliateData,
  decodeEndpoint,
  encodeAffiliateData,
  encodeEndpoint,
} from "../src/kubespan/affiliate.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

const base: AffiliateData = {
  nodeId: "n1",
  addresses: ["198.18.0.1"],
  hostname: "h",
  nodename: "",
  machineType: "",
  operatingSystem: "",
  kubespan: { publicKey: "k", address: "fd00::1", additionalAddresses: ["198.19.0.0/16"] },
  controlPlane: null,
};

// Hand-encoded from the field numbers of reference §2.4 (protobuf wire format: tag =
// field << 3 | wire type; strings/bytes/messages are type 2, uint32 is a varint).
const baseBytes = `
  0a 02 6e31
  12 04 c6120001
  1a 01 68
  3a 1f
    0a 01 6b
    12 10 fd000000000000000000000000000001
    1a 08 0a04c6130000 1010`;

describe("Affiliate protobuf (reference §2.4)", () => {
  it("encodes with the documented field numbers", () => {
    expect(Buffer.from(encodeAffiliateData(base)).toString("hex")).toBe(
      Buffer.from(hex(baseBytes)).toString("hex"),
    );
  });

  it("decodes hand-made bytes, ignoring unknown fields (KubeSpan field 4) and zones", () => {
    const bytes = hex(`
      0a 02 6e31
      12 14 fe800000000000000000000000000001 65746830
      12 04 c6120001
      1a 01 68
      2a 06 776f726b6572
      3a 29
        0a 01 6b
        12 10 fd000000000000000000000000000001
        1a 08 0a04c6130000 1010
        22 08 0a04c6130100 1018
      42 03 08ab32`);
    const d = decodeAffiliateData(bytes);
    expect(d.nodeId).toBe("n1");
    expect(d.addresses).toEqual(["fe80::1", "198.18.0.1"]);
    expect(d.machineType).toBe("worker");
    expect(d.kubespan).toEqual(base.kubespan);
    expect(d.controlPlane).toEqual({ apiServerPort: 6443 });
  });

  it("skips malformed addresses and prefixes instead of failing", () => {
    const bytes = hex(`
      12 03 c61200
      12 04 c6120001
      3a 0c 0a 00 1a 08 0a04c6130000 1021`);
    const d = decodeAffiliateData(bytes);
    expect(d.addresses).toEqual(["198.18.0.1"]);
    expect(d.kubespan?.additionalAddresses).toEqual([]);
    expect(d.kubespan?.address).toBe("");
  });

  it("skips and counts a prefix without a length instead of reading it as a /0 default route", () => {
    // KubeSpan { additional_addresses: [{ ip: 198.19.0.0 }, { ip: 198.19.1.0, bits: 24 }] }
    const bytes = hex(`
      3a 12 1a 06 0a04c6130000 1a 08 0a04c6130100 1018`);
    const dropped = { prefixes: 0 };
    const d = decodeAffiliateData(bytes, dropped);
    expect(d.kubespan?.additionalAddresses).toEqual(["198.19.1.0/24"]);
    expect(dropped.prefixes).toBe(1);
    // A /0 encodes as a prefix without a length (proto3 omits zero): it does not come back.
    const withDefault = {
      ...base,
      kubespan: { ...base.kubespan!, additionalAddresses: ["0.0.0.0/0"] },
    };
    expect(
      decodeAffiliateData(encodeAffiliateData(withDefault)).kubespan?.additionalAddresses,
    ).toEqual([]);
  });

  it("throws on bytes that are not protobuf", () => {
    expect(() => decodeAffiliateData(hex("0a ff ff ff ff 0f"))).toThrow();
  });

  it("round-trips arbitrary affiliates", () => {
    const ip4 = fc.ipV4();
    const prefix = fc.tuple(ip4, fc.integer({ min: 1, max: 32 })).map(([a, b]) => {
      const bytes = a.split(".").map(Number);
      let n = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
      n = (n & (0xffffffff << (32 - b))) >>> 0;
      return `${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")}/${b}`;
    });
    const data = fc.record({
      nodeId: fc.string(),
      addresses: fc.array(ip4, { maxLength: 4 }),
      hostname: fc.string(),
      nodename: fc.string(),
      machineType: fc.constantFrom("", "controlplane", "worker"),
      operatingSystem: fc.string(),
      kubespan: fc.option(
        fc.record({
          publicKey: fc.base64String(),
          address: fc.constant("fd00::1"),
          additionalAddresses: fc.array(prefix, { maxLength: 3 }),
        }),
      ),
      controlPlane: fc.option(fc.record({ apiServerPort: fc.integer({ min: 1, max: 65535 }) })),
    });
    fc.assert(
      fc.property(data, (d) => {
        expect(decodeAffiliateData(encodeAffiliateData(d))).toEqual(d);
      }),
      { numRuns: 100 },
    );
  });
});

describe("Endpoint message", () => {
  it("round-trips IPv4 and IPv6 endpoints in canonical form", () => {
    expect(decodeEndpoint(encodeEndpoint("198.18.0.1:51820"))).toBe("198.18.0.1:51820");
    expect(decodeEndpoint(encodeEndpoint("[FD00:0::1]:1"))).toBe("[fd00::1]:1");
    // 2 + 16 bytes of IP, 1 tag + 3 bytes of varint port = 22 bytes (reference §2.3: ≈22 B).
    expect(encodeEndpoint("[fd00::1]:51820").length).toBe(22);
  });

  it("refuses messages without a usable IP or port", () => {
    expect(() => decodeEndpoint(hex("0a03c61200 10 01"))).toThrow();
    expect(() => decodeEndpoint(hex("0a04c6120001"))).toThrow();
    expect(() => encodeEndpoint("198.18.0.1")).toThrow();
  });
});
