import { formatCidr, formatIp, makeCidr, parseCidr, parseIp } from "@wirespan/noise";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  firstHardwareMac,
  isUla,
  nodeAddressFromMac,
  nodeAddressFromPublicKey,
  parseMac,
  ulaPrefix,
} from "../src/kubespan/addressing.js";
import { ULAPurpose } from "../src/kubespan/constants.js";

describe("ULA prefix (reference §3)", () => {
  it("matches Talos's published value (talos ula_test.go / kubespan identity_test.go)", () => {
    const p = ulaPrefix("8XuV9TZHW08DOk3bVxQjH9ih_TBKjnh-j44tsCLSBzo=", ULAPurpose.kubeSpan);
    expect(formatCidr(p)).toBe("fd7f:175a:b97c:5602::/64");
  });

  it("follows the algorithm, computed by hand", () => {
    // sha256("wirespan-test-cluster") =
    //   878cfcc229290ca8afa29d9067c845a0 5bb5876a45c8e0db1ea9dfb19ec793fc
    // last 16 bytes: 5b b5 87 6a 45 c8 e0 db …; byte 0 := fd, byte 7 := purpose, /64.
    expect(formatCidr(ulaPrefix("wirespan-test-cluster"))).toBe("fdb5:876a:45c8:e002::/64");
    expect(formatCidr(ulaPrefix("wirespan-test-cluster", ULAPurpose.sideroLink))).toBe(
      "fdb5:876a:45c8:e003::/64",
    );
  });

  it("is always fd…:xx<purpose>::/64", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 4 }), (id, purpose) => {
        const p = ulaPrefix(id, purpose);
        expect(p.bits).toBe(64);
        expect(isUla(p.bytes, purpose)).toBe(true);
        expect(p.bytes.subarray(8).every((b) => b === 0)).toBe(true);
      }),
    );
  });
});

describe("node address", () => {
  it("is the modified EUI-64 of the MAC (Talos identity_test.go value)", () => {
    const subnet = ulaPrefix("8XuV9TZHW08DOk3bVxQjH9ih_TBKjnh-j44tsCLSBzo=");
    const address = nodeAddressFromMac(subnet, parseMac("2e:1a:b6:53:81:69"));
    expect(formatIp(address)).toBe("fd7f:175a:b97c:5602:2c1a:b6ff:fe53:8169");
  });

  it("reproduces the reference's example address", () => {
    // §3: fd83:b1f7:fcb5:2802:8c13:71ff:feaf:7c94 ← MAC 8e:13:71:af:7c:94 (8e ^ 02 = 8c).
    const subnet = parseCidr("fd83:b1f7:fcb5:2802::/64");
    expect(formatIp(nodeAddressFromMac(subnet, parseMac("8e:13:71:af:7c:94")))).toBe(
      "fd83:b1f7:fcb5:2802:8c13:71ff:feaf:7c94",
    );
  });

  it("flips the universal/local bit (RFC 4291 appendix A), by hand", () => {
    const subnet = parseCidr("fd00:1:2:3::/64");
    // 00:00:5e:00:53:01 (RFC 7042 documentation MAC) → 0200:5eff:fe00:5301
    expect(formatIp(nodeAddressFromMac(subnet, parseMac("00-00-5E-00-53-01")))).toBe(
      "fd00:1:2:3:200:5eff:fe00:5301",
    );
  });

  it("without a MAC: derived from the public key, stable, local-scope, inside the /64", () => {
    const subnet = ulaPrefix("c");
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const a = nodeAddressFromPublicKey(subnet, key);
        expect(a).toEqual(nodeAddressFromPublicKey(subnet, key));
        expect(formatCidr(makeCidr(a, 64))).toBe(formatCidr(subnet));
        expect(a[8] & 0x02).toBe(0);
      }),
    );
    const k1 = new Uint8Array(32).fill(1);
    const k2 = new Uint8Array(32).fill(2);
    expect(nodeAddressFromPublicKey(subnet, k1)).not.toEqual(nodeAddressFromPublicKey(subnet, k2));
  });

  it("rejects bad input", () => {
    expect(() => parseMac("00:11:22:33:44")).toThrow(/invalid MAC/);
    expect(() => parseMac("zz:11:22:33:44:55")).toThrow(/invalid MAC/);
    expect(() => nodeAddressFromMac(parseCidr("fd00::/48"), parseMac("00:11:22:33:44:55"))).toThrow(
      /\/64/,
    );
  });

  it("isUla checks byte 0 and the purpose byte only", () => {
    expect(isUla(parseIp("fd7f:175a:b97c:5602::1"), ULAPurpose.kubeSpan)).toBe(true);
    expect(isUla(parseIp("fd7f:175a:b97c:5603::1"), ULAPurpose.kubeSpan)).toBe(false);
    expect(isUla(parseIp("fc7f:175a:b97c:5602::1"), ULAPurpose.kubeSpan)).toBe(false);
    expect(isUla(parseIp("198.18.0.1"), ULAPurpose.kubeSpan)).toBe(false);
  });
});

describe("firstHardwareMac", () => {
  const info = (mac: string, internal = false) => ({
    address: "198.18.0.1",
    netmask: "255.255.255.0",
    family: "IPv4" as const,
    mac,
    internal,
    cidr: "198.18.0.1/24",
  });

  it("takes the first interface by name, skipping loopback, zero MACs and excluded names", () => {
    const ifs = {
      lo: [info("00:00:00:00:00:00", true)],
      kubespan: [info("02:00:00:00:00:99")],
      eth1: [info("02:00:00:00:00:02")],
      eth0: [info("02:00:00:00:00:01")],
      dummy: [info("00:00:00:00:00:00")],
    };
    expect(firstHardwareMac(["kubespan"], ifs)).toEqual(parseMac("02:00:00:00:00:01"));
    expect(firstHardwareMac(["eth0", "eth1", "kubespan"], ifs)).toBeNull();
  });
});
