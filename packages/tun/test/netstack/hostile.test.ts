import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIpv4 } from "../../src/netstack/ipv4.js";
import { parseIpv6 } from "../../src/netstack/ipv6.js";
import { NetStack } from "../../src/netstack/stack.js";
import {
  concat,
  extHeader,
  fragmentHeader,
  icmpSegment,
  ip,
  ipv4,
  ipv6,
  udpSegment,
} from "./packets.js";

const US4 = ip("198.19.0.2");
const PEER4 = ip("198.19.0.1");
const US6 = ip("fd00::2");
const PEER6 = ip("fd00::1");

/** Valid packets of every kind the stack parses, to mutate. */
const seeds: Uint8Array[] = [
  ipv4(PEER4, US4, 17, udpSegment(PEER4, US4, 1000, 7, new Uint8Array(40))),
  ipv4(PEER4, US4, 1, icmpSegment(PEER4, US4, 8, 0, 1, new Uint8Array(16))),
  ipv4(
    PEER4,
    US4,
    1,
    icmpSegment(
      PEER4,
      US4,
      3,
      3,
      0,
      ipv4(US4, PEER4, 17, udpSegment(US4, PEER4, 7, 1000, new Uint8Array(8))),
    ),
  ),
  ipv4(PEER4, US4, 17, new Uint8Array(64), { id: 9, fragmentOffset: 0, moreFragments: true }),
  ipv6(PEER6, US6, 17, udpSegment(PEER6, US6, 1000, 7, new Uint8Array(40))),
  ipv6(
    PEER6,
    US6,
    0,
    concat(
      extHeader("options", 43),
      extHeader("routing", 58),
      icmpSegment(PEER6, US6, 128, 0, 1, new Uint8Array(8)),
    ),
  ),
  ipv6(PEER6, US6, 44, concat(fragmentHeader(17, 0, true, 3), new Uint8Array(64))),
  ipv6(
    PEER6,
    US6,
    58,
    icmpSegment(
      PEER6,
      US6,
      1,
      4,
      0,
      ipv6(US6, PEER6, 17, udpSegment(US6, PEER6, 7, 1000, new Uint8Array(8))),
    ),
  ),
];

function withSockets(): NetStack {
  const s = new NetStack({ addresses: ["198.19.0.2", "fd00::2"] });
  s.udpBind(4, 7).handlers = { message: () => {}, error: () => {} };
  s.udpBind(6, 7).handlers = { message: () => {}, error: () => {} };
  return s;
}

const mutated = fc
  .tuple(
    fc.constantFrom(...seeds),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.nat(),
  )
  .map(([seed, flips, cut]) => {
    const p = seed.slice(0, seed.length - (cut % (seed.length + 1)));
    for (const [at, v] of flips) if (p.length > 0) p[at % p.length] = v;
    return p;
  });

describe("NetStack against hostile packets", () => {
  it("never throws on random bytes, truncated or bit-flipped IPv4/IPv6/UDP/ICMP packets, and accounts for every packet", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(mutated, fc.uint8Array({ maxLength: 120 })), { maxLength: 40 }),
        (packets) => {
          const s = withSockets();
          for (const p of packets) s.input(p, 0);
          s.tick(120_000);
          for (const out of s.takeOutput()) {
            // Whatever it answers is a well-formed packet (valid header checksum) from one of our addresses.
            const parsed = out[0] >> 4 === 4 ? parseIpv4(out) : parseIpv6(out);
            if (typeof parsed === "string")
              throw new Error(`emitted a malformed packet: ${parsed}`);
            expect(s.isLocal(parsed.src)).toBe(true);
          }
          expect(s.counters.packetsIn).toBe(packets.length);
        },
      ),
    );
  });

  it("keeps fragment memory bounded (≤ 4 MiB + one datagram) under a flood of distinct incomplete datagrams", () => {
    const s = withSockets();
    const chunk = new Uint8Array(1400);
    for (let id = 0; id < 6000; id++) {
      s.input(
        ipv4(PEER4, US4, 17, chunk, {
          id: id & 0xffff,
          fragmentOffset: (id % 40) * 1400,
          moreFragments: true,
        }),
        id,
      );
      expect(s.reassemblyBytes).toBeLessThanOrEqual((4 << 20) + 2048);
    }
    expect(s.counters.dropped["fragment-evicted"]).toBeGreaterThan(0);
    // Everything pending expires: the stack holds nothing afterwards.
    s.tick(1_000_000);
    expect(s.nextDeadline()).toBeNull();
  });

  it("caps the fragments of one datagram and drops floods of tiny overlapping fragments", () => {
    const s = withSockets();
    for (let i = 0; i < 2000; i++) {
      s.input(
        ipv4(PEER4, US4, 17, new Uint8Array(8), {
          id: 77,
          fragmentOffset: (i % 1000) * 8,
          moreFragments: true,
        }),
        0,
      );
    }
    expect(
      s.counters.dropped["fragment-invalid"] + s.counters.dropped["fragment-overlap"],
    ).toBeGreaterThan(0);
  });
});
