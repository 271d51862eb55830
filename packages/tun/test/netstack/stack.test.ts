import { describe, expect, it } from "vitest";
import { formatIp } from "../../src/netstack/address.js";
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

function newStack(): NetStack {
  return new NetStack({ addresses: ["198.19.0.2", "fd00::2"], random: () => 0.5 });
}

function readU32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

function parse(p: Uint8Array) {
  const r = p[0] >> 4 === 4 ? parseIpv4(p) : parseIpv6(p);
  if (typeof r === "string") throw new Error(`emitted an invalid packet: ${r}`);
  return r;
}

describe("NetStack IP layer", () => {
  it("answers an ICMP echo request to its IPv4 address with a reply carrying id, sequence and data", () => {
    const s = newStack();
    s.input(
      ipv4(PEER4, US4, 1, icmpSegment(PEER4, US4, 8, 0, 0x1234_0007, Uint8Array.of(1, 2, 3))),
      0,
    );
    const [reply] = s.takeOutput();
    const r = parse(reply);
    expect(formatIp(r.dst)).toBe("198.19.0.1");
    expect([...r.payload]).toEqual([
      ...icmpSegment(US4, PEER4, 0, 0, 0x1234_0007, Uint8Array.of(1, 2, 3)),
    ]);
  });

  it("answers an ICMPv6 echo request behind Hop-by-Hop and Destination Options headers", () => {
    const s = newStack();
    const body = concat(
      extHeader("options", 60),
      extHeader("options", 58),
      icmpSegment(PEER6, US6, 128, 0, 0x0001_0002, Uint8Array.of(9)),
    );
    s.input(ipv6(PEER6, US6, 0, body), 0);
    const [reply] = s.takeOutput();
    const r = parse(reply);
    expect(r.protocol).toBe(58);
    expect([...r.payload]).toEqual([
      ...icmpSegment(US6, PEER6, 129, 0, 0x0001_0002, Uint8Array.of(9)),
    ]);
  });

  it("drops IPv6 with an unknown must-discard option, a routing header with segments left, or a late Hop-by-Hop, answering each with a Parameter Problem at the offending byte (RFC 8200 §4, RFC 4443 §3.4)", () => {
    const s = newStack();
    const echo = icmpSegment(PEER6, US6, 128, 0, 1, new Uint8Array(0));
    const sent = [
      ipv6(PEER6, US6, 60, concat(extHeader("options", 58, { optionType: 0x80 }), echo)),
      ipv6(PEER6, US6, 43, concat(extHeader("routing", 58, { segmentsLeft: 1 }), echo)),
      ipv6(PEER6, US6, 60, concat(extHeader("options", 0), extHeader("options", 58), echo)),
    ];
    for (const p of sent) s.input(p, 0);
    expect(s.counters.dropped["bad-extension-header"]).toBe(3);
    const out = s.takeOutput().map(parse);
    // [type, code, pointer]: option type at 42 (code 2), Routing Type at 42 (code 0), the
    // Next Header byte naming the late Hop-by-Hop at 40 (code 1); each quotes the packet.
    expect(out.map((r) => [r.payload[0], r.payload[1], readU32(r.payload, 4)])).toEqual([
      [4, 2, 42],
      [4, 0, 42],
      [4, 1, 40],
    ]);
    out.forEach((r, i) => {
      expect(formatIp(r.dst)).toBe("fd00::1");
      expect([...r.payload.subarray(8)]).toEqual([...sent[i]]);
    });
    // An unknown option whose type says "discard silently" (01) gets no answer.
    s.input(ipv6(PEER6, US6, 60, concat(extHeader("options", 58, { optionType: 0x40 }), echo)), 0);
    expect(s.takeOutput()).toEqual([]);
    // A routing header with no segments left is skipped.
    s.input(ipv6(PEER6, US6, 43, concat(extHeader("routing", 58), echo)), 0);
    expect(s.takeOutput()).toHaveLength(1);
  });

  it("drops packets with a bad IPv4 header checksum, a bad transport checksum, or for someone else", () => {
    const s = newStack();
    const good = ipv4(PEER4, US4, 1, icmpSegment(PEER4, US4, 8, 0, 1, new Uint8Array(4)));
    const badHeader = good.slice();
    badHeader[8] ^= 1; // TTL changed without fixing the checksum
    const badIcmp = good.slice();
    badIcmp[30] ^= 0xff;
    s.input(badHeader, 0);
    s.input(badIcmp, 0);
    s.input(
      ipv4(PEER4, ip("198.19.0.9"), 1, icmpSegment(PEER4, US4, 8, 0, 1, new Uint8Array(4))),
      0,
    );
    expect(s.takeOutput()).toEqual([]);
    expect(s.counters.dropped["bad-ip-checksum"]).toBe(1);
    expect(s.counters.dropped["bad-checksum"]).toBe(1);
    expect(s.counters.dropped["not-for-us"]).toBe(1);
  });
});

describe("NetStack transports it does not speak", () => {
  it("answers IPv4 with ICMP Protocol Unreachable (RFC 1122 §3.2.2.1) and IPv6 with Parameter Problem code 1 at the Next Header byte", () => {
    const s = newStack();
    const sctp4 = ipv4(PEER4, US4, 132, new Uint8Array(12));
    s.input(sctp4, 0);
    const sctp6 = ipv6(PEER6, US6, 60, concat(extHeader("options", 132), new Uint8Array(12)));
    s.input(sctp6, 0);
    // ICMPv6 inside IPv4 is not a protocol IPv4 has either.
    s.input(ipv4(PEER4, US4, 58, new Uint8Array(8)), 1000);
    expect(s.counters.dropped["unknown-protocol"]).toBe(3);
    const [v4, v6, v4b] = s.takeOutput().map(parse);
    expect([v4.protocol, v4.payload[0], v4.payload[1]]).toEqual([1, 3, 2]);
    expect([...v4.payload.subarray(8)]).toEqual([...sctp4]);
    expect([v6.protocol, v6.payload[0], v6.payload[1], readU32(v6.payload, 4)]).toEqual([
      58, 4, 1, 40,
    ]);
    expect([v4b.payload[0], v4b.payload[1]]).toEqual([3, 2]);
    // Never to a multicast source; packets for someone else are not ours to answer.
    s.input(ipv4(ip("224.0.0.9"), US4, 132, new Uint8Array(12)), 2000);
    s.input(ipv4(PEER4, ip("198.19.0.9"), 132, new Uint8Array(12)), 2000);
    expect(s.takeOutput()).toEqual([]);
  });
});

describe("NetStack UDP", () => {
  it("delivers to a bound socket and sends replies that a second stack receives byte for byte", () => {
    const a = newStack();
    const b = new NetStack({ addresses: ["198.19.0.1"] });
    const server = a.udpBind(4, 5353);
    const got: string[] = [];
    server.handlers.message = (data, from, port) => {
      got.push(new TextDecoder().decode(data));
      server.send(data, from, port);
    };
    const client = b.udpBind(4);
    const echoed: string[] = [];
    client.handlers.message = (data, from, port) =>
      echoed.push(`${formatIp(from)}:${port} ${new TextDecoder().decode(data)}`);
    client.send(new TextEncoder().encode("hello"), US4, 5353);
    for (const p of b.takeOutput()) a.input(p, 0);
    for (const p of a.takeOutput()) b.input(p, 0);
    expect(got).toEqual(["hello"]);
    expect(echoed).toEqual(["198.19.0.2:5353 hello"]);
    expect(client.localPort).toBeGreaterThanOrEqual(32768);
  });

  it("accepts checksum 0 over IPv4 but drops it over IPv6 (RFC 8200 §8.1)", () => {
    const s = newStack();
    const sock4 = s.udpBind(4, 7);
    const sock6 = s.udpBind(6, 7);
    let n = 0;
    sock4.handlers.message = () => n++;
    sock6.handlers.message = () => n++;
    s.input(ipv4(PEER4, US4, 17, udpSegment(PEER4, US4, 1000, 7, Uint8Array.of(1), 0)), 0);
    s.input(ipv6(PEER6, US6, 17, udpSegment(PEER6, US6, 1000, 7, Uint8Array.of(1), 0)), 0);
    expect(n).toBe(1);
    expect(s.counters.dropped["bad-checksum"]).toBe(1);
  });

  it("answers a closed port with ICMP port unreachable, rate-limited per source after a burst", () => {
    const s = newStack();
    for (let i = 0; i < 10; i++)
      s.input(ipv4(PEER4, US4, 17, udpSegment(PEER4, US4, 1000, 9, Uint8Array.of(i))), 0);
    const out = s.takeOutput().map(parse);
    expect(out).toHaveLength(6);
    expect(out[0].payload[0]).toBe(3);
    expect(out[0].payload[1]).toBe(3);
    expect(s.counters.icmpRateLimited).toBe(4);
    s.input(ipv6(PEER6, US6, 17, udpSegment(PEER6, US6, 1000, 9, Uint8Array.of(1))), 1000);
    const [v6] = s.takeOutput().map(parse);
    expect([v6.payload[0], v6.payload[1]]).toEqual([1, 4]);
  });

  it("turns an ICMP port unreachable about its datagram into ECONNREFUSED on a connected socket", () => {
    const a = newStack();
    const b = new NetStack({ addresses: ["198.19.0.1"] });
    const sock = a.udpBind(4);
    sock.connect(PEER4, 9);
    const errors: string[] = [];
    sock.handlers.error = (e) => errors.push(e.code);
    sock.send(Uint8Array.of(1));
    for (const p of a.takeOutput()) b.input(p, 0);
    for (const p of b.takeOutput()) a.input(p, 0);
    expect(errors).toEqual(["ECONNREFUSED"]);
  });

  it("refuses a second bind of the same port (EADDRINUSE) and a non-local address (EADDRNOTAVAIL)", () => {
    const s = newStack();
    s.udpBind(4, 53);
    expect(() => s.udpBind(4, 53)).toThrow(/EADDRINUSE/);
    expect(s.udpBind(6, 53).localPort).toBe(53);
    expect(() => s.udpBind(4, 54, ip("198.19.0.77"))).toThrow(/EADDRNOTAVAIL/);
  });
});

describe("NetStack fragment reassembly", () => {
  function fragments4(payload: Uint8Array, size: number, id: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let off = 0; off < payload.length; off += size) {
      const n = Math.min(size, payload.length - off);
      out.push(
        ipv4(PEER4, US4, 17, payload.subarray(off, off + n), {
          id,
          fragmentOffset: off,
          moreFragments: off + n < payload.length,
        }),
      );
    }
    return out;
  }

  it("reassembles a 4000-byte UDP datagram from out-of-order IPv4 fragments", () => {
    const s = newStack();
    const data = Uint8Array.from({ length: 4000 }, (_, i) => i * 7);
    const frags = fragments4(udpSegment(PEER4, US4, 1000, 7, data), 1480, 42);
    const sock = s.udpBind(4, 7);
    let got: Uint8Array | null = null;
    sock.handlers.message = (d) => {
      got = d.slice();
    };
    for (const f of [frags[2], frags[0], frags[1]]) s.input(f, 0);
    expect(got).toEqual(data);
    expect(s.counters.reassembled).toBe(1);
  });

  it("sends IPv4 datagrams larger than the MTU as fragments that another stack reassembles", () => {
    const a = newStack();
    const b = new NetStack({ addresses: ["198.19.0.1"] });
    const rx = b.udpBind(4, 7);
    let got: Uint8Array | null = null;
    rx.handlers.message = (d) => {
      got = d.slice();
    };
    const data = Uint8Array.from({ length: 5000 }, (_, i) => i);
    a.udpBind(4).send(data, PEER4, 7);
    const out = a.takeOutput();
    expect(out.length).toBe(4);
    expect(out.every((p) => p.length <= 1420)).toBe(true);
    for (const p of out.reverse()) b.input(p, 0);
    expect(got).toEqual(data);
  });

  it("discards the whole datagram when fragments overlap", () => {
    const s = newStack();
    const frags = fragments4(udpSegment(PEER4, US4, 1000, 7, new Uint8Array(3000)), 1480, 43);
    const overlapping = ipv4(PEER4, US4, 17, new Uint8Array(16), {
      id: 43,
      fragmentOffset: 1472,
      moreFragments: true,
    });
    s.udpBind(4, 7).handlers.message = () => {
      throw new Error("must not be delivered");
    };
    s.input(frags[0], 0);
    s.input(overlapping, 0);
    s.input(frags[1], 0);
    s.input(frags[2], 0);
    expect(s.counters.dropped["fragment-overlap"]).toBe(1);
    expect(s.counters.reassembled).toBe(0);
  });

  it("times out an incomplete datagram after 30 s with ICMP Time Exceeded code 1 when fragment 0 arrived", () => {
    const s = newStack();
    const frags = fragments4(udpSegment(PEER4, US4, 1000, 7, new Uint8Array(3000)), 1480, 44);
    s.input(frags[0], 1000);
    expect(s.nextDeadline()).toBe(31_000);
    s.tick(30_999);
    expect(s.takeOutput()).toEqual([]);
    s.tick(31_000);
    const [te] = s.takeOutput().map(parse);
    expect([te.payload[0], te.payload[1]]).toEqual([11, 1]);
    expect(s.counters.dropped["fragment-timeout"]).toBe(1);
    expect(s.nextDeadline()).toBeNull();
  });

  it("reassembles IPv6 fragments (Fragment header) and treats an atomic fragment as a whole packet", () => {
    const s = newStack();
    const data = Uint8Array.from({ length: 2000 }, (_, i) => i);
    const udp = udpSegment(PEER6, US6, 1000, 7, data);
    let n = 0;
    s.udpBind(6, 7).handlers.message = (d) => {
      expect(d).toEqual(data);
      n++;
    };
    s.input(
      ipv6(PEER6, US6, 44, concat(fragmentHeader(17, 1232, false, 5), udp.subarray(1232))),
      0,
    );
    s.input(ipv6(PEER6, US6, 44, concat(fragmentHeader(17, 0, true, 5), udp.subarray(0, 1232))), 0);
    s.input(ipv6(PEER6, US6, 44, concat(fragmentHeader(17, 0, false, 6), udp)), 0);
    expect(n).toBe(2);
  });
});
