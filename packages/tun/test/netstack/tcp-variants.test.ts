import { describe, expect, it } from "vitest";
import type { TcpLayerOptions } from "../../src/netstack/tcp/types.js";
import { parsed, tcb } from "./tcp-craft.js";
import { ADDR_A, ADDR_B, Link } from "./tcp-link.js";
import { equalBytes, openPair, pattern, Recorder, writeAll } from "./tcp-pair.js";

const LOSSY = { loss: 0.03, duplicate: 0.01, delayMs: 5, jitterMs: 4 };

function lossyTransfer(
  seed: number,
  a: Partial<TcpLayerOptions>,
  b: Partial<TcpLayerOptions>,
  channel = LOSSY,
) {
  const link = new Link(seed, channel, a, b);
  const { client, server } = openPair(link);
  const data = pattern(512 << 10, seed);
  writeAll(link, client.conn, data);
  client.conn.shutdownWrite();
  const done = link.run(() => server.ended);
  return { link, client, server, data, done };
}

describe("TCP option and congestion-control variants under loss", () => {
  it("without SACK on the peer (NewReno partial-ACK recovery) the stream is byte-exact", () => {
    const r = lossyTransfer(81, {}, { sack: false });
    expect(r.done).toBe(true);
    expect(tcb(r.client.conn).sackOk).toBe(false);
    expect(equalBytes(r.server.bytes(), r.data)).toBe(true);
    expect(r.link.a.stats.fastRecoveries).toBeGreaterThan(0);
  });

  it("without timestamps (Karn RTT sampling) the stream is byte-exact", () => {
    const r = lossyTransfer(82, { timestamps: false }, {});
    expect(r.done).toBe(true);
    expect(tcb(r.client.conn).tsOk).toBe(false);
    expect(equalBytes(r.server.bytes(), r.data)).toBe(true);
    expect(tcb(r.client.conn).rtt.srtt).toBeGreaterThan(5);
  });

  it("without window scaling on the peer both sides use unscaled 16-bit windows and the stream is byte-exact", () => {
    const link = new Link(83, { delayMs: 5 }, {}, { windowScaling: false });
    const { client, server } = openPair(link);
    const data = pattern(1 << 20, 83);
    writeAll(link, client.conn, data);
    link.run(() => server.received === data.length);
    expect(tcb(client.conn).wsOk).toBe(false);
    expect(tcb(server.conn).rcvWscale).toBe(0); // the receiver's windows are taken unscaled
    expect(tcb(client.conn).maxSndWnd).toBeLessThanOrEqual(65535);
    expect(equalBytes(server.bytes(), data)).toBe(true);
  });

  it("NewReno congestion control delivers byte-exact under 3% loss", () => {
    const r = lossyTransfer(84, { congestionControl: "newreno" }, { congestionControl: "newreno" });
    expect(r.done).toBe(true);
    expect(tcb(r.client.conn).cc.name).toBe("newreno");
    expect(equalBytes(r.server.bytes(), r.data)).toBe(true);
  });

  it("5% loss with 25% reordering and duplication is still byte-exact (SACK recovery)", () => {
    const r = lossyTransfer(85, {}, {}, { loss: 0.05, duplicate: 0.02, delayMs: 5, jitterMs: 8 });
    expect(r.done).toBe(true);
    expect(equalBytes(r.server.bytes(), r.data)).toBe(true);
  });

  it("is deterministic under a seed: the same seed gives the same segment counts", () => {
    const x = lossyTransfer(86, {}, {});
    const y = lossyTransfer(86, {}, {});
    expect(x.link.sent).toEqual(y.link.sent);
    expect(x.link.now).toBe(y.link.now);
  });

  it("sequence numbers wrap past 2^32 mid-transfer without a glitch", () => {
    const probe = new Link(87);
    const port = 40000;
    // ISN = keyed hash(4-tuple) + 4 µs clock (RFC 6528): find the time that puts ISN just below 2^32.
    probe.b.listen(null, 80, {}, () => {});
    const first = probe.a.connect(
      { address: ADDR_A, port },
      { address: ADDR_B, port: 80 },
      {},
      probe.now,
    );
    const iss = tcb(first).iss;
    const link = new Link(87);
    const target = 2 ** 32 - 300_000;
    const delta = ((target - iss + 2 ** 32) % 2 ** 32) / 250;
    link.now = probe.now + delta;
    let server: Recorder | undefined;
    link.b.listen(null, 80, {}, (c) => {
      server = new Recorder(c);
    });
    const client = new Recorder(
      link.a.connect({ address: ADDR_A, port }, { address: ADDR_B, port: 80 }, {}, link.now),
    );
    link.run(() => client.connected && server !== undefined);
    const c = tcb(client.conn);
    expect(c.iss).toBeGreaterThan(2 ** 32 - 400_000);
    const data = pattern(1 << 20, 87);
    writeAll(link, client.conn, data);
    link.run(() => (server as Recorder).received === data.length);
    expect(c.seqOf(c.unaOff)).toBeLessThan(c.iss); // wrapped
    expect(equalBytes((server as Recorder).bytes(), data)).toBe(true);
  });

  it("unacknowledged data backs the RTO off exponentially and ends in ETIMEDOUT", () => {
    const link = new Link(88);
    const { client } = openPair(link);
    const times: number[] = [];
    link.filter = (to, seg) => {
      if (to === "b" && parsed(seg).len > 0) times.push(link.now);
      return false;
    };
    client.conn.write(Uint8Array.of(1, 2, 3));
    link.run(() => client.closed, 10_000_000);
    expect(client.error?.code).toBe("ETIMEDOUT");
    expect(times.length).toBe(16); // the original + 15 retransmissions (Linux tcp_retries2)
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    for (let i = 1; i < 6; i++) expect(gaps[i]).toBeCloseTo(gaps[i - 1] * 2, -1);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(120_000);
  });
});
