import { describe, expect, it } from "vitest";
import { craft, F, parsed, tcb } from "./tcp-craft.js";
import { Link } from "./tcp-link.js";
import { openPair, type Pair } from "./tcp-pair.js";

/** A connected pair and a tap of everything A (the client) sends from now on. */
function setup(seed: number): { link: Link; pair: Pair; fromA: Uint8Array[] } {
  const link = new Link(seed);
  const pair = openPair(link);
  link.advance(1000);
  const fromA: Uint8Array[] = [];
  link.filter = (to, seg) => {
    if (to === "b") fromA.push(seg);
    return true;
  };
  return { link, pair, fromA };
}

function toClient(p: Pair, seq: number, flags: number, ack = 0, payload?: Uint8Array): Uint8Array {
  return craft({ srcPort: 80, dstPort: p.client.conn.localPort, seq, ack, flags, payload });
}

describe("RST and SYN handling (RFC 5961)", () => {
  it("a RST exactly at RCV.NXT resets the connection (ECONNRESET)", () => {
    const { link, pair } = setup(41);
    link.inject("a", toClient(pair, tcb(pair.client.conn).rcvNxt, F.RST));
    expect(pair.client.error?.code).toBe("ECONNRESET");
    expect(pair.client.conn.state).toBe("CLOSED");
  });

  it("a RST in the window but not at RCV.NXT gets a challenge ACK and changes nothing", () => {
    const { link, pair, fromA } = setup(42);
    const c = tcb(pair.client.conn);
    link.inject("a", toClient(pair, (c.rcvNxt + 1000) >>> 0, F.RST));
    expect(pair.client.conn.state).toBe("ESTABLISHED");
    expect(fromA.length).toBe(1);
    expect(parsed(fromA[0]).flags).toBe(F.ACK);
    expect(parsed(fromA[0]).ack).toBe(c.rcvNxt);
    expect(link.a.drops["bad-rst"]).toBe(1);
    // The real peer answers the challenge ACK normally; the connection still works.
    pair.client.conn.write(Uint8Array.of(9));
    link.run(() => pair.server.received === 1);
  });

  it("challenge ACKs are rate-limited", () => {
    const { link, pair, fromA } = setup(43);
    const c = tcb(pair.client.conn);
    for (let i = 1; i <= 50; i++)
      link.inject("a", toClient(pair, (c.rcvNxt + i * 10) >>> 0, F.RST));
    expect(fromA.length).toBe(1);
    expect(pair.client.conn.state).toBe("ESTABLISHED");
  });

  it("a RST outside the window is dropped silently", () => {
    const { link, pair, fromA } = setup(44);
    const c = tcb(pair.client.conn);
    link.inject("a", toClient(pair, (c.rcvNxt + 0x40000000) >>> 0, F.RST));
    link.inject("a", toClient(pair, (c.rcvNxt - 5) >>> 0, F.RST));
    expect(fromA.length).toBe(0);
    expect(pair.client.conn.state).toBe("ESTABLISHED");
    expect(link.a.drops["out-of-window"]).toBe(2);
  });

  it("a SYN on an established connection gets a challenge ACK, whatever its sequence number", () => {
    const { link, pair, fromA } = setup(45);
    const c = tcb(pair.client.conn);
    link.inject("a", toClient(pair, c.rcvNxt, F.SYN));
    expect(pair.client.conn.state).toBe("ESTABLISHED");
    expect(fromA.length).toBe(1);
    expect(parsed(fromA[0]).flags).toBe(F.ACK);
    expect(link.a.drops["bad-syn"]).toBe(1);
  });

  it("a blind ACK for data never sent is dropped with an ACK, the connection intact", () => {
    const { link, pair } = setup(46);
    const c = tcb(pair.client.conn);
    const una = c.seqOf(c.unaOff);
    link.inject("a", toClient(pair, c.rcvNxt, F.ACK, (una + 100_000) >>> 0));
    link.inject("a", toClient(pair, c.rcvNxt, F.ACK, (una - 0x7000000) >>> 0));
    expect(link.a.drops["bad-ack"]).toBe(2);
    expect(c.unaOff).toBe(0);
    pair.client.conn.write(Uint8Array.of(1, 2));
    link.run(() => pair.server.received === 2);
  });

  it("out-of-window data is answered with an ACK and not stored", () => {
    const { link, pair, fromA } = setup(47);
    const c = tcb(pair.client.conn);
    link.inject(
      "a",
      toClient(
        pair,
        (c.rcvNxt + 0x10000000) >>> 0,
        F.ACK | F.PSH,
        c.seqOf(c.unaOff),
        Uint8Array.of(1, 2, 3),
      ),
    );
    expect(fromA.length).toBe(1);
    expect(pair.client.conn.readableLength).toBe(0);
    expect(pair.client.received).toBe(0);
  });
});
