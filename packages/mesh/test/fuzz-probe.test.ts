/**
 * Fuzz of the ICMPv6 echo parser the liveness probe uses on packets from the tunnel (RFC 8200 §3,
 * RFC 4443 §4.1): any bytes give null or a well-formed echo, never a throw; any echo it builds
 * parses back; corruption the checksum covers is refused.
 */
import { formatIp } from "@wirespan/noise";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  icmp6EchoReplyTo,
  icmp6EchoRequest,
  isIcmp6Echo,
  parseIcmp6Echo,
} from "../src/kubespan/probe.js";

const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 });

/** Bytes shaped like an IPv6 ICMPv6 packet (so the parser gets past its first checks) or not. */
const packetish = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc
    .tuple(fc.uint8Array({ minLength: 40, maxLength: 120 }), fc.constantFrom(128, 129, 1, 135))
    .map(([b, type]) => {
      const p = Uint8Array.from(b);
      p[0] = 0x60 | (p[0] & 0x0f);
      p[6] = 58;
      const len = p.length - 40;
      p[4] = len >> 8;
      p[5] = len & 0xff;
      if (p.length > 40) p[40] = type;
      return p;
    }),
);

describe("ICMPv6 echo parser fuzz", () => {
  it("any bytes: null or an echo whose fields lie inside the packet", () => {
    fc.assert(
      fc.property(packetish, fc.nat(8), (bytes, offset) => {
        // Also as a view into a larger buffer, as packets from a batch arrive.
        const big = new Uint8Array(bytes.length + offset);
        big.set(bytes, offset);
        for (const pkt of [bytes, big.subarray(offset)]) {
          const e = parseIcmp6Echo(pkt);
          if (e === null) continue;
          expect([ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY]).toContain(e.type);
          expect(e.src).toHaveLength(16);
          expect(e.dst).toHaveLength(16);
          expect(e.id).toBeLessThanOrEqual(0xffff);
          expect(e.seq).toBeLessThanOrEqual(0xffff);
          expect(40 + 8 + e.payload.length).toBeLessThanOrEqual(pkt.length);
        }
        const reply = icmp6EchoReplyTo(bytes);
        if (reply !== null) expect(parseIcmp6Echo(reply)?.type).toBe(ICMPV6_ECHO_REPLY);
        expect(typeof isIcmp6Echo(bytes, "fd00::1", "fd00::2", 1, 1)).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("every echo request built parses back; its reply swaps addresses and keeps the rest", () => {
    fc.assert(
      fc.property(
        v6,
        v6,
        fc.nat(0xffff),
        fc.nat(0xffff),
        fc.uint8Array({ maxLength: 200 }),
        (s, d, id, seq, payload) => {
          const src = formatIp(s);
          const dst = formatIp(d);
          const pkt = icmp6EchoRequest(src, dst, id, seq, payload);
          const e = parseIcmp6Echo(pkt);
          expect(e).not.toBeNull();
          expect(e?.type).toBe(ICMPV6_ECHO_REQUEST);
          expect([...(e?.src ?? [])]).toEqual([...s]);
          expect([...(e?.dst ?? [])]).toEqual([...d]);
          expect([e?.id, e?.seq]).toEqual([id, seq]);
          expect([...(e?.payload ?? [])]).toEqual([...payload]);
          expect(isIcmp6Echo(pkt, src, dst, id, seq)).toBe(true);
          const r = parseIcmp6Echo(icmp6EchoReplyTo(pkt) as Uint8Array);
          expect(r?.type).toBe(ICMPV6_ECHO_REPLY);
          expect([...(r?.src ?? [])]).toEqual([...d]);
          expect([...(r?.payload ?? [])]).toEqual([...payload]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a flipped bit in the addresses or the ICMPv6 message is refused (checksum)", () => {
    fc.assert(
      fc.property(
        v6,
        v6,
        fc.uint8Array({ maxLength: 64 }),
        fc.nat(),
        fc.nat(7),
        (s, d, payload, at, bit) => {
          const pkt = icmp6EchoRequest(formatIp(s), formatIp(d), 0x7773, 1, payload);
          const i = 8 + (at % (pkt.length - 8));
          pkt[i] ^= 1 << bit;
          expect(parseIcmp6Echo(pkt)).toBeNull();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
