import { isIPv6 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeAddress, forwardedAddress, peerAddress } from "../src/discovery/client-ip.js";
import { parseListenAddress } from "../src/discovery/listen-address.js";

// client_ip is netip.Addr binary form (kubespan.md §1.6): 4 bytes IPv4, 16 bytes IPv6, empty if unknown.

describe("discovery client_ip", () => {
  it("parses grpc-js peer strings (IPv6 peers come without brackets)", () => {
    expect(peerAddress("127.0.0.1:5000")).toBe("127.0.0.1");
    expect(peerAddress("::1:5000")).toBe("::1");
    expect(peerAddress("[::1]:5000")).toBe("::1");
    expect(peerAddress("fd00::5:1:443")).toBe("fd00::5:1");
    expect(peerAddress("unknown")).toBeUndefined();
    expect(peerAddress("")).toBeUndefined();
  });

  it("encodes IPv4, unmaps IPv4-mapped IPv6, drops zones, and is empty when unknown", () => {
    expect([...encodeAddress("198.18.0.1")]).toEqual([198, 18, 0, 1]);
    expect([...encodeAddress("::ffff:198.18.0.1")]).toEqual([198, 18, 0, 1]);
    expect(encodeAddress("fe80::1%eth0").toString("hex")).toBe("fe800000000000000000000000000001");
    expect(encodeAddress("1:2:3:4:5:6:1.2.3.4").toString("hex")).toBe(
      "00010002000300040005000601020304",
    );
    expect(encodeAddress(undefined)).toHaveLength(0);
    expect(encodeAddress("not an ip")).toHaveLength(0);
  });

  it("encodes every IPv6 address to the 16 bytes it was printed from", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = encodeAddress(text);
        expect(isIPv6(text)).toBe(true);
        if (bytes.length === 4) return; // IPv4-mapped, unmapped on purpose
        expect(bytes).toHaveLength(16);
        const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
        expect(encodeAddress(groups.join(":"))).toEqual(bytes);
      }),
    );
  });

  it("takes X-Real-IP first, then the first X-Forwarded-For entry, ignoring garbage", () => {
    expect(forwardedAddress("198.18.0.9", "198.18.0.1")).toBe("198.18.0.9");
    expect(forwardedAddress(undefined, " 198.18.0.1 , 10.0.0.1")).toBe("198.18.0.1");
    expect(forwardedAddress("garbage", "also garbage")).toBeUndefined();
  });

  it("parses listen addresses and refuses malformed ones", () => {
    expect(parseListenAddress("127.0.0.1:3000")).toEqual({ host: "127.0.0.1", port: 3000 });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListenAddress(":3000")).toEqual({ host: "::", port: 3000 });
    for (const bad of ["3000", "host:99999", "[nothost]:1", "a:b:c", ""]) {
      expect(() => parseListenAddress(bad), bad).toThrow(/listen address/);
    }
  });
});
