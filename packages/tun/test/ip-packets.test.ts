import { describe, expect, it } from "vitest";
import { internetChecksum, ipv6Bytes, parseUdp, udp4, udp6 } from "./ip-packets.js";

// The test helper's own checks: the privileged TUN tests rely on these packets being valid.
describe("test packet helpers", () => {
  it("computes the RFC 1071 §3 example checksum", () => {
    // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2, so the checksum is its complement.
    expect(
      internetChecksum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
    ).toBe(~0xddf2 & 0xffff);
  });

  it("expands IPv6 addresses", () => {
    expect(Array.from(ipv6Bytes("fd00:77::1"))).toEqual([
      0xfd, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
  });

  it("builds UDP packets that parse back with valid checksums", () => {
    const payload = Uint8Array.from([1, 2, 3]);
    const p4 = parseUdp(udp4("198.19.77.2", "198.19.77.1", 7, 9, payload));
    expect(p4).toMatchObject({ version: 4, sport: 7, dport: 9, headerChecksumOk: true });
    expect(Array.from(p4?.payload ?? [])).toEqual([1, 2, 3]);
    const p6 = parseUdp(udp6("fd00:77::2", "fd00:77::1", 7, 9, payload));
    expect(p6).toMatchObject({ version: 6, sport: 7, dport: 9 });
    expect(Array.from(p6?.payload ?? [])).toEqual([1, 2, 3]);
  });
});
