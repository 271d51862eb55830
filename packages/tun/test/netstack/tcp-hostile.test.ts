import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_OOO_RANGES } from "../../src/netstack/tcp/recv-buffer.js";
import { craft, F, tcb } from "./tcp-craft.js";
import { ADDR_A, ADDR_B, Link } from "./tcp-link.js";
import { equalBytes, openPair, pattern, Recorder, writeAll } from "./tcp-pair.js";

/** After hostile input: the pair still moves data both ways and memory stayed bounded. */
function stillWorks(link: Link, client: Recorder, server: Recorder): void {
  link.filter = undefined;
  const c = tcb(client.conn);
  expect(c.recvBuf.outOfOrderRanges).toBeLessThanOrEqual(MAX_OOO_RANGES);
  expect(client.conn.readableLength).toBeLessThanOrEqual(1 << 20);
  const before = server.received;
  const beforeC = client.received;
  client.conn.write(Uint8Array.of(1, 2, 3, 4));
  server.conn.write(Uint8Array.of(5, 6));
  expect(
    link.run(() => server.received === before + 4 && client.received === beforeC + 2, 120_000),
  ).toBe(true);
}

const optionBytes = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 });

/**
 * The ACK field of a forged segment. A segment whose sequence range may reach into the receive
 * window and whose ACK is acceptable is, by construction, the peer's own next data: any TCP takes
 * it (RFC 5961 §1 — only the ACK check stands between an in-window forger and the stream), which
 * desynchronises the real peer, so it cannot be part of a "state stays intact" property. Such a
 * segment gets an ACK for data never sent (RFC 9293 §3.10.7.4: "send an ACK, drop the segment");
 * every other segment keeps the generated ACK.
 */
function blindAck(
  c: ReturnType<typeof tcb>,
  s: { seqDelta: number; ackDelta: number; payload: Uint8Array; options: number[] },
): number {
  const una = c.seqOf(c.unaOff);
  const nxt = c.seqOf(c.maxOff);
  const ack = (una + s.ackDelta) >>> 0;
  // Conservative reach: a bogus data offset can only shrink the payload; +1 for SYN/FIN.
  const reach = s.payload.length + s.options.length + 4 + 1;
  const window = (c.rcvAdvRight - c.rcvNxt) >>> 0;
  const delta = s.seqDelta | 0;
  const mayEnterWindow = delta + reach >= 0 && delta <= window;
  const ackAcceptable = ((ack - una) | 0) <= ((nxt - una) | 0) && ((una - ack) | 0) <= c.maxSndWnd;
  if (!mayEnterWindow || !ackAcceptable) return ack;
  return (nxt + 1 + (Math.abs(s.ackDelta) % 0x3fffffff)) >>> 0;
}

describe("hostile segments (property tests)", () => {
  it("random bytes as segments never throw and leave an established connection working", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 40 }), (segs) => {
        const link = new Link(61);
        const { client, server } = openPair(link);
        for (const s of segs) {
          link.inject("a", s);
          link.inject("b", s, ADDR_A);
        }
        stillWorks(link, client, server);
      }),
      { numRuns: 40 },
    );
  });

  it("forged headers to the connection's ports (any seq/ack/flags/window, garbage options, bogus data offset) never throw; state stays intact", () => {
    const seg = fc.record({
      seqDelta: fc.oneof(fc.integer({ min: -70000, max: 70000 }), fc.nat({ max: 0xffffffff })),
      ackDelta: fc.oneof(fc.integer({ min: -70000, max: 70000 }), fc.nat({ max: 0xffffffff })),
      flags: fc.integer({ min: 0, max: 63 }).filter((f) => !(f & F.RST)),
      window: fc.integer({ min: 0, max: 65535 }),
      options: optionBytes,
      payload: fc.uint8Array({ maxLength: 3000 }),
      offsetNibble: fc.option(fc.integer({ min: 0, max: 15 })),
    });
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 30 }), (segs) => {
        const link = new Link(62);
        const { client, server } = openPair(link);
        const c = tcb(client.conn);
        for (const s of segs) {
          const bytes = craft({
            srcPort: 80,
            dstPort: client.conn.localPort,
            seq: (c.rcvNxt + s.seqDelta) >>> 0,
            ack: blindAck(c, s),
            flags: s.flags,
            window: s.window,
            options: s.options,
            payload: s.payload,
          });
          if (s.offsetNibble !== null) bytes[12] = s.offsetNibble << 4;
          link.inject("a", bytes);
          link.advance(1);
        }
        expect(client.conn.state).toBe("ESTABLISHED");
        stillWorks(link, client, server);
      }),
      { numRuns: 60 },
    );
  });

  it("spoofed RSTs with random sequence numbers do not reset the connection (RFC 5961 §3)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 0xffffffff }), { minLength: 1, maxLength: 50 }),
        (seqs) => {
          const link = new Link(63);
          const { client, server } = openPair(link);
          const c = tcb(client.conn);
          for (const s of seqs) {
            if (s === c.rcvNxt) continue;
            link.inject(
              "a",
              craft({ srcPort: 80, dstPort: client.conn.localPort, seq: s, flags: F.RST }),
            );
          }
          expect(client.conn.state).toBe("ESTABLISHED");
          stillWorks(link, client, server);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("thousands of tiny out-of-order segments keep the reassembly table bounded", () => {
    const link = new Link(64);
    const { client, server } = openPair(link);
    const c = tcb(client.conn);
    const ack = c.seqOf(c.unaOff);
    for (let i = 1; i < 5000; i++) {
      const seq = (c.rcvNxt + 1000 + 2 * i) >>> 0;
      link.inject(
        "a",
        craft({
          srcPort: 80,
          dstPort: client.conn.localPort,
          seq,
          ack,
          flags: F.ACK,
          payload: Uint8Array.of(i),
        }),
      );
    }
    expect(c.recvBuf.outOfOrderRanges).toBeLessThanOrEqual(MAX_OOO_RANGES);
    // Forged bytes are far ahead of the real stream; its next bytes arrive as usual.
    link.advance(1000);
    stillWorks(link, client, server);
  });

  it("a SYN flood to a listener leaves memory bounded, established connections working, and new clients get in by SYN cookie", () => {
    const link = new Link(65, {}, { backlog: 64 });
    const { client, server } = openPair(link, 80);
    const flood = (n: number, base: number) => {
      for (let i = 0; i < n; i++) {
        const k = base + i;
        const src = Uint8Array.of(198, 18, (k >> 8) & 255, k & 255);
        link.inject(
          "b",
          craft({
            srcPort: 1024 + (k % 60000),
            dstPort: 80,
            seq: k * 7919,
            flags: F.SYN,
            options: [2, 4, 5, 180],
          }),
          src,
        );
      }
    };
    flood(10_000, 0);
    expect(link.b.connectionCount).toBeLessThanOrEqual(64 + 1);
    expect(link.b.drops["backlog-full"]).toBeGreaterThanOrEqual(10_000 - 64);
    stillWorks(link, client, server);
    // During the flood a legitimate client connects (stateless SYN cookie) and moves data.
    const late = new Recorder(
      link.a.connect({ address: ADDR_A, port: 0 }, { address: ADDR_B, port: 80 }, {}, link.now),
    );
    flood(1000, 20_000);
    expect(link.run(() => late.connected, 10_000)).toBe(true);
    late.conn.write(Uint8Array.of(1, 2, 3));
    expect(link.run(() => late.conn.writableLength === 0, 10_000)).toBe(true); // acknowledged
    expect(link.b.connectionCount).toBeLessThanOrEqual(64 + 2);
    // Half-open entries expire after their SYN-ACK retries.
    link.advance(200_000);
    expect(link.b.connectionCount).toBe(2);
  });

  it("a connection made by SYN cookie keeps window scaling, SACK and timestamps (encoded in the TSval, as Linux); without timestamps it runs without them", () => {
    for (const timestamps of [true, false]) {
      const link = new Link(67, {}, { backlog: 1 }, { backlog: 1, timestamps });
      const accepted: Recorder[] = [];
      link.b.listen(null, 80, {}, (c) => accepted.push(new Recorder(c)));
      // One half-open entry fills the backlog: the next SYN is answered with a cookie.
      link.inject(
        "b",
        craft({ srcPort: 999, dstPort: 80, seq: 1, flags: F.SYN, options: [2, 4, 5, 180] }),
        Uint8Array.of(198, 18, 9, 9),
      );
      const client = new Recorder(
        link.a.connect({ address: ADDR_A, port: 0 }, { address: ADDR_B, port: 80 }, {}, link.now),
      );
      expect(link.run(() => client.connected && accepted.length === 1, 10_000)).toBe(true);
      expect(link.b.drops["backlog-full"]).toBe(1);
      const srv = tcb(accepted[0].conn);
      const cli = tcb(client.conn);
      expect([srv.tsOk, srv.wsOk, srv.sackOk]).toEqual([timestamps, timestamps, timestamps]);
      expect([cli.tsOk, cli.wsOk, cli.sackOk]).toEqual([timestamps, timestamps, timestamps]);
      if (timestamps) {
        expect(srv.sndWscale).toBe(cli.rcvWscale);
        expect(cli.sndWscale).toBe(srv.rcvWscale);
      }
      // A window beyond 64 KiB (scaling at work when on), and data byte-exact both ways.
      const data = pattern(400_000, 8);
      expect(writeAll(link, client.conn, data)).toBe(true);
      expect(link.run(() => accepted[0].received === data.length, 60_000)).toBe(true);
      expect(equalBytes(accepted[0].bytes(), data)).toBe(true);
      accepted[0].conn.write(Uint8Array.of(7));
      expect(link.run(() => client.received === 1, 10_000)).toBe(true);
      expect(link.a.drops.paws + link.b.drops.paws).toBe(0);
    }
  });

  it("an ACK carrying a forged SYN cookie is reset, not accepted", () => {
    const link = new Link(66, {}, { backlog: 1 });
    let accepted = 0;
    link.b.listen(null, 80, {}, () => accepted++);
    for (let i = 0; i < 200; i++) {
      const ack = craft({
        srcPort: 4000 + i,
        dstPort: 80,
        seq: 1000 + i,
        ack: i * 104729,
        flags: F.ACK,
      });
      link.inject("b", ack);
    }
    expect(accepted).toBe(0);
    expect(link.b.connectionCount).toBe(0);
    expect(link.b.stats.resetsSent).toBe(200);
  });
});
