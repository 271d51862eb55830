import { describe, expect, it } from "vitest";
import { craft, F, parsed, tcb, tsOption } from "./tcp-craft.js";
import { ADDR_A, ADDR_B, Link } from "./tcp-link.js";
import { openPair, type Pair, Recorder } from "./tcp-pair.js";

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

  it("PAWS drops a segment whose timestamp is older than TS.Recent and ACKs it (RFC 7323 §5)", () => {
    const { link, pair, fromA } = setup(48);
    const c = tcb(pair.client.conn);
    const ts = (c.tsRecent - 1000) >>> 0;
    const opts = tsOption(ts);
    const seg = craft({
      srcPort: 80,
      dstPort: pair.client.conn.localPort,
      seq: c.rcvNxt,
      ack: c.seqOf(c.unaOff),
      flags: F.ACK | F.PSH,
      options: opts,
      payload: Uint8Array.of(7, 7),
    });
    link.inject("a", seg);
    expect(link.a.drops.paws).toBe(1);
    expect(pair.client.conn.readableLength + pair.client.received).toBe(0);
    expect(fromA.length).toBe(1);
  });

  it("an in-window segment with a bad ACK does not plant its timestamp in TS.Recent (no PAWS lock-out)", () => {
    const { link, pair } = setup(49);
    const c = tcb(pair.client.conn);
    const before = c.tsRecent;
    const ts = (c.tsRecent + 0x40000000) >>> 0; // far "newer" than the real peer's clock
    const tsOpt = tsOption(ts);
    const una = c.seqOf(c.unaOff);
    for (const ack of [(una + 100_000) >>> 0, (una - 0x7000000) >>> 0]) {
      const seg = craft({
        srcPort: 80,
        dstPort: pair.client.conn.localPort,
        seq: c.rcvNxt,
        ack,
        flags: F.ACK,
        options: tsOpt,
      });
      link.inject("a", seg);
    }
    expect(link.a.drops["bad-ack"]).toBe(2);
    expect(c.tsRecent).toBe(before);
    // The real peer's segments still pass PAWS: data flows both ways.
    pair.client.conn.write(Uint8Array.of(1, 2));
    pair.server.conn.write(Uint8Array.of(3));
    expect(link.run(() => pair.server.received === 2 && pair.client.received === 1)).toBe(true);
    expect(link.a.drops.paws).toBe(0);
  });

  it("a keep-alive probe at RCV.NXT − 1 is answered with an ACK", () => {
    const { link, pair, fromA } = setup(49);
    const c = tcb(pair.client.conn);
    link.inject("a", toClient(pair, (c.rcvNxt - 1) >>> 0, F.ACK, c.seqOf(c.unaOff)));
    expect(fromA.length).toBe(1);
    expect(parsed(fromA[0]).ack).toBe(c.rcvNxt);
  });

  it("a RST in TIME_WAIT at RCV.NXT removes the connection", () => {
    const { link, pair } = setup(50);
    pair.server.conn.shutdownWrite();
    link.run(() => pair.client.ended);
    pair.client.conn.close();
    link.run(() => pair.server.conn.state === "TIME_WAIT");
    const s = tcb(pair.server.conn);
    link.inject(
      "b",
      craft({ srcPort: pair.client.conn.localPort, dstPort: 80, seq: s.rcvNxt, flags: F.RST }),
      ADDR_A,
    );
    expect(pair.server.conn.state).toBe("CLOSED");
    expect(link.b.connectionCount).toBe(0);
  });
});

describe("RST and ACK during the handshake (RFC 9293 §3.10.7.3)", () => {
  it("SYN_SENT: an ACK for the wrong sequence number is answered with RST and the connect goes on", () => {
    const link = new Link(91);
    const out: Uint8Array[] = [];
    link.filter = (to, seg) => {
      if (to === "b") out.push(seg);
      return false;
    };
    const r = new Recorder(
      link.a.connect({ address: ADDR_A, port: 0 }, { address: ADDR_B, port: 80 }, {}, link.now),
    );
    const syn = parsed(out[0]);
    link.inject(
      "a",
      craft({
        srcPort: 80,
        dstPort: r.conn.localPort,
        seq: 5,
        ack: (syn.seq + 1000) >>> 0,
        flags: F.SYN | F.ACK,
      }),
    );
    expect(parsed(out[1]).flags).toBe(F.RST);
    expect(parsed(out[1]).seq).toBe((syn.seq + 1000) >>> 0);
    expect(r.conn.state).toBe("SYN_SENT");
    // A RST whose ACK is not ours is ignored as well.
    link.inject(
      "a",
      craft({
        srcPort: 80,
        dstPort: r.conn.localPort,
        seq: 0,
        ack: (syn.seq + 7) >>> 0,
        flags: F.RST | F.ACK,
      }),
    );
    expect(r.conn.state).toBe("SYN_SENT");
  });

  it("SYN_RECEIVED: a RST sends the half-open connection back to LISTEN (forgotten, never accepted)", () => {
    const link = new Link(92);
    let accepted = 0;
    link.b.listen(null, 80, {}, () => accepted++);
    const synAcks: Uint8Array[] = [];
    link.filter = (to, seg) => {
      if (to === "a") synAcks.push(seg);
      return false;
    };
    link.inject(
      "b",
      craft({ srcPort: 3333, dstPort: 80, seq: 1000, flags: F.SYN, options: [2, 4, 5, 180] }),
      ADDR_A,
    );
    expect(link.b.connectionCount).toBe(1);
    link.inject("b", craft({ srcPort: 3333, dstPort: 80, seq: 1001, flags: F.RST }), ADDR_A);
    expect(link.b.connectionCount).toBe(0);
    expect(accepted).toBe(0);
    // The listener still works.
    link.filter = undefined;
    const r = new Recorder(
      link.a.connect({ address: ADDR_A, port: 0 }, { address: ADDR_B, port: 80 }, {}, link.now),
    );
    link.run(() => r.connected && accepted === 1);
    expect(accepted).toBe(1);
  });
});
