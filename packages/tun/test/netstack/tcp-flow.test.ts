import { describe, expect, it } from "vitest";
import { craft, F, parsed, tcb } from "./tcp-craft.js";
import { Link } from "./tcp-link.js";
import { equalBytes, openPair, pattern } from "./tcp-pair.js";

describe("TCP flow control, keep-alive, Nagle and delayed ACKs", () => {
  it("a slow reader closes the window and bounds the sender's buffered bytes; reading resumes the transfer", () => {
    const link = new Link(
      51,
      { delayMs: 5 },
      { sendBufferSize: 128 << 10, receiveBufferSize: 64 << 10 },
    );
    const { client, server } = openPair(link, 80, false);
    const data = pattern(1 << 20, 5);
    let off = 0;
    let shortWrites = 0;
    let maxBuffered = 0;
    const writeMore = () => {
      while (off < data.length) {
        const n = client.conn.write(data.subarray(off, off + 32768));
        off += n;
        if (n < 32768) {
          shortWrites++;
          break;
        }
      }
    };
    writeMore();
    // Nobody reads for 30 s: the window closes, the sender probes, nothing grows.
    link.advance(2000);
    const probesBefore = link.sent.a;
    link.advance(28_000);
    maxBuffered = Math.max(maxBuffered, client.conn.writableLength);
    expect(server.conn.readableLength).toBeLessThanOrEqual(64 << 10);
    expect(server.conn.readableLength).toBeGreaterThan(60 << 10);
    expect(client.conn.writableLength).toBeLessThanOrEqual(128 << 10);
    expect(shortWrites).toBe(1);
    const probes = link.sent.a - probesBefore;
    expect(probes).toBeGreaterThan(2); // zero-window probes, backing off
    expect(probes).toBeLessThan(12);
    expect(client.conn.state).toBe("ESTABLISHED");
    // Now read slowly; refill on every `writable`.
    client.conn.setEvents({ writable: writeMore });
    writeMore();
    // The reader takes 4 KiB per event of the link (a slow consumer).
    const limit = link.now + 600_000;
    while (server.received < data.length && (server.drain(4096) > 0 || link.step(limit))) {
      maxBuffered = Math.max(maxBuffered, client.conn.writableLength);
    }
    expect(equalBytes(server.bytes(), data)).toBe(true);
    expect(maxBuffered).toBeLessThanOrEqual(128 << 10);
  });

  it("keep-alive against a dead peer ends in ETIMEDOUT after the idle time plus 10 probes 1 s apart", () => {
    const link = new Link(52);
    const { client } = openPair(link);
    client.conn.setKeepAlive(true, 1000);
    link.filter = () => false;
    const start = link.now;
    link.run(() => client.closed, 60_000);
    expect(client.error?.code).toBe("ETIMEDOUT");
    const elapsed = link.now - start;
    expect(elapsed).toBeGreaterThanOrEqual(10_000);
    expect(elapsed).toBeLessThanOrEqual(12_500);
  });

  it("keep-alive probes answered by a live peer keep an idle connection open", () => {
    const link = new Link(53);
    const { client, server } = openPair(link);
    client.conn.setKeepAlive(true, 5000);
    const before = link.sent.a;
    link.advance(60_000);
    expect(client.conn.state).toBe("ESTABLISHED");
    expect(server.conn.state).toBe("ESTABLISHED");
    expect(link.sent.a - before).toBeGreaterThanOrEqual(10); // one probe every ~5 s
  });

  it("Nagle (setNoDelay(false)) holds a small segment while data is unacknowledged", () => {
    const link = new Link(54, { delayMs: 20 });
    const { client, server } = openPair(link);
    client.conn.setNoDelay(false);
    const sent: number[] = [];
    link.filter = (to, seg) => {
      if (to === "b" && parsed(seg).len > 0) sent.push(parsed(seg).len);
      return true;
    };
    client.conn.write(Uint8Array.of(1));
    client.conn.write(Uint8Array.of(2));
    client.conn.write(Uint8Array.of(3));
    expect(sent).toEqual([1]);
    link.run(() => server.received === 3);
    expect(sent).toEqual([1, 2]);
  });

  it("with noDelay (the default) small writes go out at once", () => {
    const link = new Link(55, { delayMs: 20 });
    const { client } = openPair(link);
    const sent: number[] = [];
    link.filter = (to, seg) => {
      if (to === "b" && parsed(seg).len > 0) sent.push(parsed(seg).len);
      return true;
    };
    client.conn.write(Uint8Array.of(1));
    client.conn.write(Uint8Array.of(2));
    expect(sent).toEqual([1, 1]);
  });

  it("delays the ACK of a lone segment, ACKs every second full segment at once", () => {
    const link = new Link(56, { delayMs: 1 });
    const { client, server } = openPair(link);
    const acks: number[] = [];
    link.filter = (to, seg) => {
      const p = parsed(seg);
      if (to === "a" && p.len === 0 && p.flags === F.ACK) acks.push(link.now);
      return true;
    };
    // Warm-up: the first ACK also opens the window beyond the SYN-ACK's unscaled 64 KiB.
    client.conn.write(Uint8Array.of(0));
    link.run(() => acks.length === 1);
    acks.length = 0;
    const t0 = link.now;
    client.conn.write(Uint8Array.of(1));
    link.run(() => acks.length === 1);
    expect(acks[0] - t0).toBeGreaterThanOrEqual(40);
    acks.length = 0;
    const t1 = link.now;
    client.conn.write(pattern(1368 * 2));
    link.run(() => acks.length === 1);
    expect(acks[0] - t1).toBeLessThan(10);
    expect(server.received).toBe(2 + 1368 * 2);
  });
});

describe("zero windows and receive batches", () => {
  it("with our window at zero, a segment at RCV.NXT still delivers its ACK (RFC 9293 §3.10.7.4); its text is refused and the zero window re-announced", () => {
    const link = new Link(58, { delayMs: 1 }, { receiveBufferSize: 16 << 10 });
    const { client, server } = openPair(link, 80, false);
    server.conn.write(pattern(64 << 10));
    link.advance(500);
    const c = tcb(client.conn);
    expect(client.conn.readableLength).toBe(16 << 10);
    expect(c.rcvAdvRight).toBe(c.rcvNxt); // window closed
    // The client sends 100 bytes; the server's pure ACK of them is lost.
    const fromA: Uint8Array[] = [];
    link.filter = (to, seg) => {
      if (to === "b") fromA.push(seg);
      return to === "b";
    };
    client.conn.write(pattern(100, 3));
    link.advance(20);
    expect(c.unaOff).toBe(0);
    // The server's next segment (a probe with one byte of new data) acknowledges them.
    fromA.length = 0;
    link.inject(
      "a",
      craft({
        srcPort: 80,
        dstPort: client.conn.localPort,
        seq: c.rcvNxt,
        ack: c.seqOf(100),
        flags: F.ACK | F.PSH,
        payload: Uint8Array.of(42),
      }),
    );
    expect(c.unaOff).toBe(100); // the ACK counted
    expect(client.conn.readableLength).toBe(16 << 10); // the byte did not
    expect(link.a.drops["out-of-window"]).toBeGreaterThan(0);
    expect(fromA.length).toBe(1);
    expect(parsed(fromA[0])).toMatchObject({ flags: F.ACK, ack: c.rcvNxt, window: 0, len: 0 });
    // Reading reopens the window and the whole stream arrives intact.
    link.filter = undefined;
    client.autoRead = true;
    client.drain();
    expect(link.run(() => client.received === 64 << 10)).toBe(true);
    expect(equalBytes(client.bytes(), pattern(64 << 10))).toBe(true);
  });

  it("inside a receive batch the data's ACKs collapse into one, sent at the batch's end (outside: one per two segments)", () => {
    const link = new Link(59, { delayMs: 1 });
    const { client, server } = openPair(link);
    server.conn.write(Uint8Array.of(0)); // warm-up: opens the window past the SYN's 64 KiB
    link.advance(300);
    const held: Uint8Array[] = [];
    const acks: number[] = [];
    link.filter = (to, seg) => {
      const p = parsed(seg);
      if (to === "a" && p.len > 0) {
        held.push(seg);
        return false;
      }
      if (to === "b" && p.len === 0 && p.flags === F.ACK) acks.push(p.ack);
      return true;
    };
    server.conn.write(pattern(1368 * 8, 4));
    expect(held.length).toBe(8);
    const c = tcb(client.conn);
    const batch = held.splice(0, 8);
    link.a.beginBatch(link.now);
    for (const s of batch) link.inject("a", s);
    expect(acks).toEqual([]);
    link.a.endBatch(link.now);
    expect(acks).toEqual([c.rcvNxt]);
    expect(client.received).toBe(1 + 1368 * 8);
    // The same without a batch: RFC 1122 §4.2.3.2, an ACK for every second full segment.
    acks.length = 0;
    server.conn.write(pattern(1368 * 8, 5));
    link.advance(50);
    for (const s of held.splice(0)) link.inject("a", s);
    expect(acks.length).toBe(4);
    expect(client.received).toBe(1 + 1368 * 16);
  });
});

describe("silly window syndrome avoidance (RFC 9293 §3.8.6.2)", () => {
  it("a 4 KiB receive buffer read in 300-byte bites produces no tiny segments", () => {
    const link = new Link(57, { delayMs: 2 }, { receiveBufferSize: 4096 });
    const { client, server } = openPair(link, 80, false);
    const sizes: number[] = [];
    link.filter = (to, seg) => {
      const p = parsed(seg);
      if (to === "b" && p.len > 0) sizes.push(p.len);
      return true;
    };
    const data = pattern(200_000, 57);
    let off = 0;
    const limit = link.now + 600_000;
    while (server.received < data.length) {
      if (off < data.length) off += client.conn.write(data.subarray(off, off + 8192));
      if (server.drain(300) === 0 && !link.step(limit)) break;
    }
    expect(equalBytes(server.bytes(), data)).toBe(true);
    const tiny = sizes.filter((s) => s < 1024).length;
    expect(tiny).toBeLessThanOrEqual(2); // at most the tail
    expect(sizes.length).toBeLessThan(data.length / 1024);
  });
});

describe("tail loss probe (RFC 8985 §7)", () => {
  /** A pair with a measured RTT, and the client's next `n` full segments written at once. */
  function tail(seed: number, dropLast: boolean) {
    const link = new Link(seed, { delayMs: 5 });
    const { client, server } = openPair(link);
    client.conn.write(pattern(1000, 1)); // an RTT sample and an open window
    link.run(() => server.received === 1000);
    link.advance(100);
    const c = tcb(client.conn);
    let dropped = 0;
    const lastStart = c.seqOf(1000 + 1368 * 3);
    link.filter = (to, seg) => {
      const p = parsed(seg);
      if (dropLast && to === "b" && p.len > 0 && p.seq === lastStart && dropped === 0) {
        dropped++;
        return false;
      }
      return true;
    };
    const t0 = link.now;
    client.conn.write(pattern(1368 * 4, 2));
    expect(link.run(() => c.unaOff === 1000 + 1368 * 4, 10_000)).toBe(true);
    return { link, client, server, elapsed: link.now - t0, dropped };
  }

  it("a lost last segment is repaired by a probe after about 2·SRTT, not by the RTO; the next ACK beyond it reduces the window once", () => {
    const { link, client, server, elapsed, dropped } = tail(60, true);
    expect(dropped).toBe(1);
    expect(elapsed).toBeLessThan(100); // RTT ≈ 10 ms; the RTO is ≥ 200 ms
    expect(link.a.stats.timeouts).toBe(0);
    expect(link.a.stats.lossProbes).toBe(1);
    expect(equalBytes(server.bytes().subarray(1000), pattern(1368 * 4, 2))).toBe(true);
    // The episode is judged when an ACK passes the probe's end without a DSACK for it.
    const cwnd = tcb(client.conn).cc.cwnd;
    client.conn.write(pattern(100, 3));
    const done = 1000 + 1368 * 4 + 100;
    expect(link.run(() => tcb(client.conn).unaOff === done, 10_000)).toBe(true);
    expect(server.received).toBe(done);
    expect(link.a.stats.lossProbeRecoveries).toBe(1);
    expect(tcb(client.conn).cc.cwnd).toBeLessThan(cwnd);
  });

  it("without loss no probe is sent", () => {
    const { link } = tail(61, false);
    link.advance(1000);
    expect(link.a.stats.lossProbes).toBe(0);
    expect(link.a.stats.timeouts).toBe(0);
  });
});
