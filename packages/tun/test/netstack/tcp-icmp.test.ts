import { describe, expect, it } from "vitest";
import { parsed, tcb } from "./tcp-craft.js";
import { ADDR_A, ADDR_B, Link } from "./tcp-link.js";
import { equalBytes, openPair, pattern, Recorder, writeAll } from "./tcp-pair.js";

/** The first 8 bytes of a segment A sent: what an ICMP error quotes. */
function quoteOf(seg: Uint8Array): Uint8Array {
  return seg.slice(0, 8);
}

/** A connect from A to B:80 whose SYN is kept from B: the recorder and the SYN's quote. */
function unansweredConnect(link: Link): { r: Recorder; quote: Uint8Array } {
  let syn: Uint8Array | undefined;
  link.filter = (to, seg) => {
    if (to === "b") syn = seg;
    return false;
  };
  const r = new Recorder(
    link.a.connect({ address: ADDR_A, port: 0 }, { address: ADDR_B, port: 80 }, {}, link.now),
  );
  expect(syn).toBeDefined();
  return { r, quote: quoteOf(syn as Uint8Array) };
}

/** Hands A an ICMP error from B quoting `quote`. */
function icmpToA(link: Link, quote: Uint8Array, err: Parameters<Link["a"]["icmpError"]>[3]): void {
  link.a.icmpError(ADDR_A, ADDR_B, quote, err, link.now);
}

describe("ICMP errors for TCP (RFC 5927, RFC 1191, RFC 8201)", () => {
  it("port unreachable during SYN_SENT fails the connect with ECONNREFUSED at once", () => {
    const link = new Link(71);
    const { r, quote } = unansweredConnect(link);
    icmpToA(link, quote, { code: "ECONNREFUSED", fatal: true });
    expect(r.error?.code).toBe("ECONNREFUSED");
    expect(link.a.connectionCount).toBe(0);
  });

  it("host unreachable during SYN_SENT fails with EHOSTUNREACH; an error quoting a foreign sequence number is ignored", () => {
    const link = new Link(72);
    const { r, quote } = unansweredConnect(link);
    const bogus = quote.slice();
    bogus[4] ^= 0x80; // sequence number far from ours
    icmpToA(link, bogus, { code: "EHOSTUNREACH", fatal: false });
    expect(r.closed).toBe(false);
    icmpToA(link, quote, { code: "EHOSTUNREACH", fatal: false });
    expect(r.error?.code).toBe("EHOSTUNREACH");
  });

  it("an established connection keeps an unreachable as a soft error, reported when it times out", () => {
    const link = new Link(73);
    const { client } = openPair(link);
    let last: Uint8Array | undefined;
    link.filter = (to, seg) => {
      if (to === "b") last = seg;
      return false;
    };
    client.conn.write(Uint8Array.of(1, 2, 3));
    icmpToA(link, quoteOf(last as Uint8Array), { code: "EHOSTUNREACH", fatal: false });
    expect(client.conn.state).toBe("ESTABLISHED");
    link.run(() => client.closed, 3_600_000);
    expect(client.error?.code).toBe("EHOSTUNREACH");
  });

  it("packet too big lowers the MSS and resends in smaller segments; below 1280 on IPv6 / 68 on IPv4 is ignored", () => {
    const link = new Link(74);
    const { client, server } = openPair(link);
    const c = tcb(client.conn);
    const before = c.mss;
    let big: Uint8Array | undefined;
    const sizes: number[] = [];
    link.filter = (to, seg) => {
      if (to !== "b") return true;
      const p = parsed(seg);
      if (p.len > 0) sizes.push(p.len);
      if (big === undefined && p.len > 1000) {
        big = seg;
        return false;
      }
      return true;
    };
    client.conn.write(pattern(20_000, 3));
    icmpToA(link, quoteOf(big as Uint8Array), { code: "EMSGSIZE", fatal: false, mtu: 40 });
    expect(c.mss).toBe(before);
    icmpToA(link, quoteOf(big as Uint8Array), { code: "EMSGSIZE", fatal: false, mtu: 1000 });
    expect(c.mss).toBe(1000 - 40 - 12);
    sizes.length = 0;
    link.run(() => server.received === 20_000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(948);
    expect(equalBytes(server.bytes(), pattern(20_000, 3))).toBe(true);
  });
});

describe("segmentation offload (maxEmitSegment)", () => {
  it("emits MSS multiples up to the offload size, and the stream stays byte-exact", () => {
    const link = new Link(75, {}, { maxEmitSegment: 65536 });
    const { client, server } = openPair(link);
    const mss = tcb(client.conn).mss;
    const sizes: number[] = [];
    link.filter = (to, seg) => {
      const p = parsed(seg);
      if (to === "b" && p.len > 0) sizes.push(p.len);
      return true;
    };
    const data = pattern(2 << 20, 8);
    writeAll(link, client.conn, data);
    link.run(() => server.received === data.length);
    expect(equalBytes(server.bytes(), data)).toBe(true);
    expect(Math.max(...sizes)).toBeGreaterThan(mss);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(65536);
    for (const s of sizes.slice(0, -1)) if (s > mss) expect(s % mss).toBe(0);
    expect(sizes.length).toBeLessThan(data.length / mss / 4);
  });
});
