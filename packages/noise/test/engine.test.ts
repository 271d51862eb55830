import { describe, expect, it } from "vitest";
import {
  MESSAGE_HANDSHAKE_COOKIE,
  MESSAGE_HANDSHAKE_INITIATION,
  MESSAGE_HANDSHAKE_RESPONSE,
  MESSAGE_TRANSPORT_DATA,
} from "../src/constants.js";
import { ipv4, ipv6, pair } from "./support/net.js";

describe("Engine: two peers in memory", () => {
  it("complete a handshake and exchange IPv4 and IPv6 packets both ways", () => {
    const { net, a, b } = pair();
    const p1 = ipv4("198.19.0.1", "198.19.0.2", 100);
    net.send(a, p1);
    expect(net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION)).toHaveLength(1);
    expect(net.sentBy(b, MESSAGE_HANDSHAKE_RESPONSE)).toHaveLength(1);
    expect(b.delivered).toEqual([p1]);
    const p2 = ipv6("fd00::2", "fd00::1", 333);
    net.send(b, p2);
    expect(a.delivered).toEqual([p2]);
    const p3 = ipv6("fd00::1", "fd00::2", 0);
    const p4 = ipv4("198.19.0.2", "198.19.0.1", 1);
    net.send(a, p3);
    net.send(b, p4);
    expect(b.delivered).toEqual([p1, p3]);
    expect(a.delivered).toEqual([p2, p4]);
    expect(a.events.map((e) => e.event.type)).toContain("handshake-completed");
    expect(b.events.find((e) => e.event.type === "handshake-completed")?.event).toEqual({
      type: "handshake-completed",
      role: "responder",
    });
    // b learned a's endpoint from the authenticated initiation (roaming).
    expect(b.engine.peers()[0].endpoint).toEqual(a.endpoint);
    const [pa] = a.engine.peers();
    const [pb] = b.engine.peers();
    expect(pa.lastHandshakeNs).toBeGreaterThan(0n);
    // Byte counters count wire bytes: what a sent is what b received, and vice versa.
    expect(pa.txBytes).toBe(pb.rxBytes);
    expect(pb.txBytes).toBe(pa.rxBytes);
  });

  it("pads plaintext to a multiple of 16, clamped to the MTU, and trims it on receive", () => {
    const { net, a, b } = pair({ mtu: 1420 });
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 0)); // handshake first
    const lengths = new Map<number, number>([
      [20 + 80, 112],
      [20 + 81, 112],
      [1419, 1420],
      [1420, 1420],
      [1411, 1420],
      [1400, 1408],
    ]);
    for (const [len, padded] of lengths) {
      const since = net.wire.length;
      const p = ipv4("198.19.0.1", "198.19.0.2", len - 20);
      net.send(a, p);
      const [d] = net.sentBy(a, MESSAGE_TRANSPORT_DATA, since);
      expect(d.data.length).toBe(32 + padded);
      expect(b.delivered.at(-1)).toEqual(p);
    }
  });

  it("flushes staged packets in order once the session exists; drops the oldest past 128", () => {
    const { net, a, b } = pair();
    net.filter = () => false; // nothing gets through yet
    const packets = Array.from({ length: 130 }, (_, i) => ipv4("198.19.0.1", "198.19.0.2", i + 1));
    for (const p of packets) net.send(a, p);
    expect(a.engine.drops["staged-overflow"]).toBe(2);
    net.filter = () => true;
    net.advance(6_000); // retransmission gets through
    expect(b.delivered).toEqual(packets.slice(2));
  });

  it("drops packets without a route, non-IP packets and lying lengths from the tunnel", () => {
    const { net, a } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.77", 10));
    net.send(a, new Uint8Array([0x50, 1, 2]));
    // Total length 31 in 30 bytes: sealed, the peer would read one byte of padding as data.
    const long = ipv4("198.19.0.1", "198.19.0.2", 10);
    long[3] += 1;
    net.send(a, long);
    const v6 = ipv6("fd00::1", "fd00::2", 10);
    v6[5] += 1;
    net.send(a, v6);
    expect(a.engine.drops["outbound-no-route"]).toBe(1);
    expect(a.engine.drops["outbound-not-ip"]).toBe(1);
    expect(a.engine.drops["outbound-bad-length"]).toBe(2);
    expect(net.wire).toHaveLength(0);
  });

  it("drops inbound packets whose inner source is not the sending peer's (cryptokey routing)", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    net.send(a, ipv4("198.19.0.99", "198.19.0.2", 10));
    net.send(a, ipv6("fd00::99", "fd00::2", 10));
    expect(b.delivered).toHaveLength(1);
    expect(b.engine.drops["inner-source-not-allowed"]).toBe(2);
  });

  it("moves an allowed IP to another peer (last writer wins)", () => {
    const { net, a, b } = pair();
    const c = net.addNode("c", 3);
    net.link(a, c, []);
    net.link(c, a, ["198.19.0.1/32"], { endpoint: false });
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    expect(b.delivered).toHaveLength(1);
    net.set(
      a,
      `public_key=${Buffer.from(c.publicKey).toString("hex")}\nallowed_ip=198.19.0.2/32\n`,
    );
    net.set(
      c,
      `public_key=${Buffer.from(a.publicKey).toString("hex")}\nallowed_ip=198.19.0.1/32\n`,
    );
    const p = ipv4("198.19.0.1", "198.19.0.2", 11);
    net.send(a, p);
    expect(c.delivered).toEqual([p]);
    expect(b.delivered).toHaveLength(1);
    const peerB = a.engine.peers().find((x) => Buffer.from(x.publicKey).equals(b.publicKey));
    expect(peerB?.allowedIps.map((x) => x.bits)).toEqual([128]);
  });
});

describe("Engine timers (fake clock)", () => {
  it("rekeys after 120 s without losing a packet", () => {
    const { net, a, b } = pair();
    let sentAB = 0;
    let sentBA = 0;
    for (let t = 0; t < 400_000; t += 1_000) {
      net.send(a, ipv4("198.19.0.1", "198.19.0.2", 40));
      sentAB++;
      if (t % 3_000 === 0) {
        net.send(b, ipv4("198.19.0.2", "198.19.0.1", 40));
        sentBA++;
      }
      net.advance(1_000);
    }
    expect(b.delivered).toHaveLength(sentAB);
    expect(a.delivered).toHaveLength(sentBA);
    const completes = a.events.filter((e) => e.event.type === "handshake-completed");
    // 400 s of traffic: a handshake at 0 and one every ~120 s after it.
    expect(completes.length).toBe(4);
    const gaps = completes.slice(1).map((e, i) => e.at - completes[i].at);
    for (const g of gaps) expect(g).toBeGreaterThan(120_000);
    for (const g of gaps) expect(g).toBeLessThan(122_000);
    expect(b.engine.drops).toEqual({});
  });

  it("does not use a keypair older than 180 s: the next packet starts a handshake", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    net.advance(180_001);
    const since = net.wire.length;
    const p = ipv4("198.19.0.1", "198.19.0.2", 12);
    net.send(a, p);
    expect(net.wire[since].data[0]).toBe(MESSAGE_HANDSHAKE_INITIATION);
    expect(b.delivered.at(-1)).toEqual(p);
  });

  it("sends a passive keepalive 10 s after receiving data it did not answer", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    const since = net.wire.length;
    net.advance(9_999);
    expect(net.sentBy(b, MESSAGE_TRANSPORT_DATA, since)).toHaveLength(0);
    net.advance(2);
    const ka = net.sentBy(b, MESSAGE_TRANSPORT_DATA, since);
    expect(ka.map((d) => d.data.length)).toEqual([32]);
    expect(a.delivered).toHaveLength(0); // keepalives are never delivered
  });

  it("starts a new handshake 15 s after sending data that got no answer", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    net.advance(11_000); // b's passive keepalive has come and gone
    net.filter = (d) => d.from !== b.endpoint; // b goes silent
    const since = net.wire.length;
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    net.advance(15_000);
    expect(net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION, since)).toHaveLength(0);
    net.advance(400);
    expect(net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION, since)).toHaveLength(1);
  });

  it("sends persistent keepalives, the first at once when enabled", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    net.advance(20_000);
    const since = net.wire.length;
    net.set(
      a,
      `public_key=${Buffer.from(b.publicKey).toString("hex")}\npersistent_keepalive_interval=25\n`,
    );
    expect(net.sentBy(a, MESSAGE_TRANSPORT_DATA, since).map((d) => d.data.length)).toEqual([32]);
    net.advance(100_000);
    const kas = net.sentBy(a, MESSAGE_TRANSPORT_DATA, since);
    expect(kas.map((d) => d.at - kas[0].at)).toEqual([0, 25_000, 50_000, 75_000, 100_000]);
  });

  it("gives up after MAX_TIMER_HANDSHAKES + 2 initiations and drops staged packets", () => {
    const { net, a, b } = pair();
    net.filter = () => false;
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    net.advance(200_000);
    const inits = net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION);
    expect(inits).toHaveLength(20);
    for (let i = 1; i < inits.length; i++) {
      const gap = inits[i].at - inits[i - 1].at;
      expect(gap).toBeGreaterThanOrEqual(5_000);
      expect(gap).toBeLessThan(5_334);
    }
    expect(a.events.filter((e) => e.event.type === "handshake-gave-up")).toHaveLength(1);
    // Staged packet was dropped: when b becomes reachable nothing old arrives.
    net.filter = () => true;
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 11));
    expect(b.delivered.map((p) => p.length)).toEqual([31]);
  });

  it("zeroes key material 540 s after the last session", () => {
    const { net, a } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    net.advance(541_000);
    expect(a.events.some((e) => e.event.type === "keys-zeroed")).toBe(true);
    expect(a.engine.nextDeadline()).toBeNull();
  });
});

describe("Engine handshake protection", () => {
  it("recovers through a cookie reply when the responder is under load", () => {
    const { net, a, b } = pair();
    b.engine.underLoadThreshold = 0;
    const p = ipv4("198.19.0.1", "198.19.0.2", 10);
    net.send(a, p);
    expect(net.sentBy(b, MESSAGE_HANDSHAKE_COOKIE)).toHaveLength(1);
    expect(b.engine.drops["under-load-cookie-sent"]).toBe(1);
    expect(b.delivered).toHaveLength(0);
    net.advance(5_400); // retransmission carries mac2
    expect(b.delivered).toEqual([p]);
    expect(net.sentBy(b, MESSAGE_HANDSHAKE_COOKIE)).toHaveLength(1);
  });

  it("rejects a replayed (old TAI64N) initiation", () => {
    const { net, a, b } = pair();
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    const [init] = net.sentBy(a, MESSAGE_HANDSHAKE_INITIATION);
    net.advance(1_000);
    const since = net.wire.length;
    net.inject(b, init.data, a.endpoint);
    expect(b.engine.drops["initiation-replay"]).toBe(1);
    expect(net.wire.length).toBe(since); // no response
  });

  it("accepts at most one initiation per peer per 20 ms", () => {
    const { net, a, b } = pair();
    // Two more instances of a's identity, whose wall clocks run ahead (fresh TAI64N stamps).
    const a2 = net.addNode("a2", 11, { wallOffsetNs: 1_000_000_000n });
    const a3 = net.addNode("a3", 12, { wallOffsetNs: 2_000_000_000n });
    for (const x of [a2, a3]) {
      x.privateKey = a.privateKey;
      x.publicKey = a.publicKey;
      net.link(x, b, ["198.19.0.2/32"]);
    }
    net.send(a, ipv4("198.19.0.1", "198.19.0.2", 10));
    expect(b.delivered).toHaveLength(1);
    net.now += 10;
    net.send(a2, ipv4("198.19.0.1", "198.19.0.2", 10));
    expect(b.engine.drops["initiation-flood"]).toBe(1);
    net.now += 15;
    net.send(a3, ipv4("198.19.0.1", "198.19.0.2", 10));
    expect(b.engine.drops["initiation-flood"]).toBe(1);
    expect(b.delivered).toHaveLength(2);
  });
});
