/**
 * The cleartext check's classifier on hand-built frames: it must pass WireGuard (single messages
 * and UDP GSO batches) and the traffic allowed around it, and flag every kind of leak.
 */
import { describe, expect, it } from "vitest";
import { inspectFrame, isWireGuardPayload } from "./cleartext.js";

const rules = { markers: ["WSSOAK-PING"], meshPort: 51820, discoveryPort: 3000 };
const ip = (s: string) => s.split(".").map(Number);

function ipv4(src: string, dst: string, proto: number, l4: Buffer, flags = 0): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h.writeUInt16BE(flags, 6);
  h[8] = 64;
  h[9] = proto;
  Buffer.from(ip(src)).copy(h, 12);
  Buffer.from(ip(dst)).copy(h, 16);
  return Buffer.concat([h, l4]);
}

function eth(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

function wg(type: number, len: number): Buffer {
  const b = Buffer.alloc(len, 0xab);
  b[0] = type;
  b[1] = b[2] = b[3] = 0;
  return b;
}

const frame = (src: string, dst: string, proto: number, l4: Buffer, flags = 0) =>
  eth(0x0800, ipv4(src, dst, proto, l4, flags));
const wgFrame = (payload: Buffer) =>
  frame("198.18.2.1", "198.18.2.2", 17, udp(51820, 51820, payload));

describe("cleartext check", () => {
  it("passes every WireGuard message shape between nodes", () => {
    for (const [t, len] of [
      [1, 148],
      [2, 92],
      [3, 64],
      [4, 32],
      [4, 32 + 16 * 80],
      [4, 32 + 1420], // an MTU-sized packet: padding stops at the MTU
    ]) {
      expect(inspectFrame(wgFrame(wg(t, len)), rules)).toBe("wireguard");
    }
  });

  it("passes a UDP GSO batch of transport messages and refuses a ragged one", () => {
    const batch = Buffer.concat([wg(4, 1104), wg(4, 1104), wg(4, 48)]);
    expect(isWireGuardPayload(batch)).toBe(true);
    expect(isWireGuardPayload(Buffer.concat([wg(4, 1452), wg(4, 400)]))).toBe(true);
    // A handshake initiation queued behind transport data to the same endpoint.
    expect(isWireGuardPayload(Buffer.concat([wg(4, 208), wg(1, 148)]))).toBe(true);
    expect(inspectFrame(wgFrame(batch), rules)).toBe("wireguard");
    expect(isWireGuardPayload(Buffer.concat([wg(4, 304), wg(4, 40)]))).toBe(false);
    expect(isWireGuardPayload(Buffer.concat([wg(4, 304), Buffer.alloc(300)]))).toBe(false);
  });

  it("flags malformed messages on the mesh port", () => {
    for (const p of [wg(1, 147), wg(4, 33), wg(4, 500), wg(5, 64), Buffer.from("hello wg port")]) {
      expect(inspectFrame(wgFrame(p), rules)).toHaveProperty("violation");
    }
  });

  it("flags a marker anywhere, even inside allowed traffic", () => {
    const p = Buffer.concat([wg(4, 32), Buffer.from("WSSOAK-PING-WSSOAK-PING-WSSOAK-P")]);
    const v = inspectFrame(wgFrame(p), rules);
    expect(v).toHaveProperty("violation", expect.stringContaining("plaintext"));
  });

  it("flags non-WireGuard traffic between node addresses, old or roamed", () => {
    const echo = Buffer.alloc(16);
    echo[0] = 8;
    expect(inspectFrame(frame("198.18.2.1", "198.18.2.103", 1, echo), rules)).toHaveProperty(
      "violation",
    );
    expect(
      inspectFrame(frame("198.18.2.1", "198.18.2.2", 6, Buffer.alloc(20)), rules),
    ).toHaveProperty("violation");
    expect(
      inspectFrame(frame("198.18.2.1", "198.18.2.2", 17, udp(4000, 5000, wg(1, 148))), rules),
    ).toHaveProperty("violation");
  });

  it("allows ICMP errors quoting mesh UDP, and later fragments", () => {
    const quoted = ipv4("198.18.2.2", "198.18.2.1", 17, udp(51820, 51820, wg(4, 32))).subarray(
      0,
      28,
    );
    const unreachable = Buffer.concat([Buffer.from([3, 3, 0, 0, 0, 0, 0, 0]), quoted]);
    expect(inspectFrame(frame("198.18.2.1", "198.18.2.2", 1, unreachable), rules)).toBe("allowed");
    const tail = frame("198.18.2.1", "198.18.2.2", 17, Buffer.alloc(100, 0xcd), 0x00b9);
    expect(inspectFrame(tail, rules)).toBe("allowed");
  });

  it("allows discovery's gRPC port and nothing else to the discovery address", () => {
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(40000, 0);
    tcp.writeUInt16BE(3000, 2);
    expect(inspectFrame(frame("198.18.2.3", "198.18.2.254", 6, tcp), rules)).toBe("allowed");
    expect(
      inspectFrame(frame("198.18.2.3", "198.18.2.254", 17, udp(51820, 51820, wg(4, 32))), rules),
    ).toHaveProperty("violation");
  });

  it("flags overlay addresses on the underlay, IPv4 and IPv6", () => {
    expect(
      inspectFrame(frame("198.19.1.1", "198.18.2.2", 17, udp(1, 2, Buffer.alloc(8))), rules),
    ).toHaveProperty("violation");
    const v6 = Buffer.alloc(40);
    v6[0] = 0x60;
    v6[6] = 58;
    Buffer.from("fd001234000000000000000000000001", "hex").copy(v6, 8);
    Buffer.from("fd001234000000000000000000000002", "hex").copy(v6, 24);
    expect(inspectFrame(eth(0x86dd, v6), rules)).toHaveProperty("violation");
    Buffer.from("fe800000000000000000000000000001", "hex").copy(v6, 8);
    Buffer.from("ff020000000000000000000000000001", "hex").copy(v6, 24);
    expect(inspectFrame(eth(0x86dd, v6), rules)).toBe("allowed");
  });
});
