/**
 * Fuzz of the inner IP packet handling (reference §1.1 "Inner IPv4/IPv6 length validation",
 * packet.ts): arbitrary packets from a's tunnel, including ones with lying length fields, go
 * through a real session. Each one is dropped and counted (at a or at b) or delivered to b as
 * exactly the bytes its header claims; nothing throws. (Datagram-level fuzz is in
 * property.test.ts.)
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIp } from "../src/cidr.js";
import { innerPacketLength } from "../src/packet.js";
import { ipv4, pair } from "./support/net.js";

const total = (drops: Readonly<Record<string, number>>) =>
  Object.values(drops).reduce((x, y) => x + y, 0);

/** Packets: noise, or IPv4/IPv6 headers with random fields, addressed between a and b or not. */
const packet = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  fc
    .tuple(
      fc.uint8Array({ minLength: 20, maxLength: 120 }),
      fc.constantFrom("198.19.0.1", "198.19.0.9"),
      fc.constantFrom("198.19.0.2", "198.19.0.7"),
    )
    .map(([b, src, dst]) => {
      const p = Uint8Array.from(b);
      p[0] = 0x40 | (p[0] & 0x0f);
      p.set(parseIp(src), 12);
      p.set(parseIp(dst), 16);
      return p;
    }),
  fc
    .tuple(
      fc.uint8Array({ minLength: 40, maxLength: 120 }),
      fc.constantFrom("fd00::1", "fd00::9"),
      fc.constantFrom("fd00::2", "fd00::7"),
    )
    .map(([b, src, dst]) => {
      const p = Uint8Array.from(b);
      p[0] = 0x60 | (p[0] & 0x0f);
      p.set(parseIp(src), 8);
      p.set(parseIp(dst), 24);
      return p;
    }),
);

describe("inner packet fuzz through a real session", () => {
  it("every packet is delivered as its header's length or dropped and counted", () => {
    fc.assert(
      fc.property(fc.array(packet, { minLength: 1, maxLength: 12 }), (packets) => {
        const { net, a, b } = pair();
        // Establish the session with an honest packet first.
        net.send(a, ipv4("198.19.0.1", "198.19.0.2", 8));
        expect(b.delivered).toHaveLength(1);
        const dropsBefore = total(a.engine.drops) + total(b.engine.drops);
        const deliveredBefore = b.delivered.length;
        for (const p of packets) net.send(a, p);
        const delivered = b.delivered.slice(deliveredBefore);
        const dropped = total(a.engine.drops) + total(b.engine.drops) - dropsBefore;
        expect(delivered.length + dropped).toBe(packets.length);
        // Delivered packets are prefixes of sent ones, cut at the length their header claims.
        let j = 0;
        for (const d of delivered) {
          while (j < packets.length && !isPrefixAt(packets[j], d)) j++;
          expect(j).toBeLessThan(packets.length);
          expect(innerPacketLength(d, d.length)).toBe(d.length);
          j++;
        }
        // The session still carries honest traffic.
        net.send(a, ipv4("198.19.0.1", "198.19.0.2", 9));
        expect(b.delivered).toHaveLength(deliveredBefore + delivered.length + 1);
      }),
      { numRuns: 300 },
    );
  });
});

function isPrefixAt(sent: Uint8Array, got: Uint8Array): boolean {
  return got.length <= sent.length && got.every((x, i) => x === sent[i]);
}
