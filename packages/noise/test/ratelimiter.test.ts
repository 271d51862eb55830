import { describe, expect, it } from "vitest";
import { parseIp } from "../src/cidr.js";
import { PACKETS_BURSTABLE, PACKETS_PER_SECOND, RateLimiter } from "../src/ratelimiter.js";

const COST_MS = 1000 / PACKETS_PER_SECOND; // 50 ms per packet

/**
 * The expected allow/deny sequence of the kernel's selftest/ratelimiter.c (`expected_results`,
 * also wireguard-go ratelimiter_test.go), with its sleeps expressed on a fake clock:
 * burst of 5 allowed, then denied; after one packet's worth of time one more; after two, two.
 */
const EXPECTED: Array<{ allowed: boolean; waitMs: number; text: string }> = [
  ...Array.from({ length: PACKETS_BURSTABLE }, () => ({
    allowed: true,
    waitMs: 0,
    text: "initial burst",
  })),
  { allowed: false, waitMs: 0, text: "after burst" },
  { allowed: true, waitMs: COST_MS, text: "refilled one packet" },
  { allowed: false, waitMs: 0, text: "not refilled enough" },
  { allowed: true, waitMs: 2 * COST_MS, text: "refilled two packets" },
  { allowed: true, waitMs: 0, text: "second of the two" },
  { allowed: false, waitMs: 0, text: "after the two" },
];

describe("RateLimiter", () => {
  it("uses WireGuard's 20 packets/s and burst 5", () => {
    expect(PACKETS_PER_SECOND).toBe(20);
    expect(PACKETS_BURSTABLE).toBe(5);
  });

  it("follows the kernel/wireguard-go timing sequence for many v4 and v6 sources", () => {
    // Sources from wireguard-go's test, each following the sequence independently.
    const sources = [
      "127.0.0.1",
      "192.168.1.1",
      "172.167.2.3",
      "97.231.252.215",
      "248.97.91.167",
      "188.208.233.47",
      "104.2.183.179",
      "72.129.46.120",
      "2001:db8:a0b:12f0::1",
      "f5c2:818f:c052:655a:9860:b136:6894:25f0",
      "b2d7:15ab:48a7:b07c:a541:f144:a9fe:54fc",
      "a47b:786e:1671:a22b:d6f9:4ab0:abc7:c918",
      "ea1e:d155:7f7a:98fb:2bf5:9483:80f6:5445",
      "3f0e:54a2:f5b4:cd19:a21d:58e1:3746:84c4",
    ].map(parseIp);
    const rl = new RateLimiter();
    let now = 1_000_000;
    EXPECTED.forEach((step, i) => {
      now += step.waitMs;
      for (const s of sources) expect(rl.allow(s, now), `${i}: ${step.text}`).toBe(step.allowed);
    });
    expect(rl.size).toBe(sources.length);
  });

  it("kernel selftest shape: other sources unaffected; IPv6 grouped by /64", () => {
    const rl = new RateLimiter();
    const v4 = parseIp("0.0.31.246"); // kernel uses saddr 8182
    const v6 = new Uint8Array(16);
    const dv = new DataView(v6.buffer);
    dv.setUint32(0, 1212);
    dv.setUint32(4, 289188);
    let now = 5_000;
    EXPECTED.forEach((step, i) => {
      now += step.waitMs;
      expect(rl.allow(v4, now), `v4 ${i}`).toBe(step.allowed);
      const other4 = Uint8Array.from(v4);
      new DataView(other4.buffer).setUint32(0, 8182 + i + 1);
      expect(rl.allow(other4, now), `other v4 ${i}`).toBe(true);
      // Same /64, different interface identifier each step: still one bucket.
      dv.setUint32(8, i);
      dv.setUint32(12, i);
      expect(rl.allow(v6, now), `v6 ${i}`).toBe(step.allowed);
      // A different /64: its own bucket.
      const other6 = Uint8Array.from(v6);
      new DataView(other6.buffer).setUint32(0, 1212 + i + 1);
      expect(rl.allow(other6, now), `other v6 ${i}`).toBe(true);
    });
  });

  it("refills at most to the burst", () => {
    const rl = new RateLimiter();
    const ip = parseIp("198.18.0.1");
    for (let i = 0; i < PACKETS_BURSTABLE; i++) expect(rl.allow(ip, 0)).toBe(true);
    expect(rl.allow(ip, 0)).toBe(false);
    // An hour of silence buys only a full bucket, not 72,000 packets.
    const later = 3_600_000;
    for (let i = 0; i < PACKETS_BURSTABLE; i++) expect(rl.allow(ip, later)).toBe(true);
    expect(rl.allow(ip, later)).toBe(false);
  });

  it("tolerates a clock that steps backwards (no credit)", () => {
    const rl = new RateLimiter({ burst: 1 });
    const ip = parseIp("198.18.0.1");
    expect(rl.allow(ip, 1000)).toBe(true);
    expect(rl.allow(ip, 0)).toBe(false);
    expect(rl.allow(ip, 0 + COST_MS)).toBe(false);
  });

  it("gc drops entries idle for more than a second, and only those", () => {
    const rl = new RateLimiter();
    const a = parseIp("198.18.0.1");
    const b = parseIp("198.18.0.2");
    rl.allow(a, 0);
    rl.allow(b, 600);
    rl.gc(1000);
    expect(rl.size).toBe(2);
    rl.gc(1001);
    expect(rl.size).toBe(1);
    rl.gc(1601);
    expect(rl.size).toBe(0);
  });

  it("is bounded: when full, new sources are refused (kernel capacity test)", () => {
    const max = 1000;
    const rl = new RateLimiter({ maxEntries: max });
    const ip = new Uint8Array(4);
    const dv = new DataView(ip.buffer);
    for (let i = 0; i <= max; i++) {
      dv.setUint32(0, i);
      expect(rl.allow(ip, 0), `source ${i}`).toBe(i !== max);
    }
    expect(rl.size).toBe(max);
    // Known sources still get their tokens.
    dv.setUint32(0, 0);
    expect(rl.allow(ip, 0)).toBe(true);
    rl.gc(2000);
    dv.setUint32(0, max);
    expect(rl.allow(ip, 2000)).toBe(true);
  });

  it("refuses malformed source addresses without throwing", () => {
    const rl = new RateLimiter();
    expect(rl.allow(new Uint8Array(5), 0)).toBe(false);
    expect(rl.size).toBe(0);
  });

  it("honours custom rates", () => {
    const rl = new RateLimiter({ packetsPerSecond: 1, burst: 2 });
    const ip = parseIp("fd00::1");
    expect([rl.allow(ip, 0), rl.allow(ip, 0), rl.allow(ip, 0)]).toEqual([true, true, false]);
    expect(rl.allow(ip, 999)).toBe(false);
    expect(rl.allow(ip, 1000)).toBe(true);
    expect(() => new RateLimiter({ packetsPerSecond: 0 })).toThrow();
  });
});
