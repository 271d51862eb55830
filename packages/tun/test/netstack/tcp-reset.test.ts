import { describe, expect, it } from "vitest";
import { ADDR_A, ADDR_B, Link } from "./tcp-link.js";
import { openPair, Recorder } from "./tcp-pair.js";

describe("TCP connection failures and resets", () => {
  it("connecting to a port nobody listens on fails with ECONNREFUSED", () => {
    const link = new Link(21);
    const c = link.a.connect(
      { address: ADDR_A, port: 0 },
      { address: ADDR_B, port: 9 },
      {},
      link.now,
    );
    const r = new Recorder(c);
    link.run(() => r.closed);
    expect(r.error?.code).toBe("ECONNREFUSED");
    expect(link.b.drops["no-socket"]).toBe(1);
    expect(link.a.connectionCount).toBe(0);
  });

  it("a black-holed SYN times out with ETIMEDOUT after the SYN retries", () => {
    const link = new Link(22);
    link.filter = () => false;
    const c = link.a.connect(
      { address: ADDR_A, port: 0 },
      { address: ADDR_B, port: 80 },
      {},
      link.now,
    );
    const r = new Recorder(c);
    const start = link.now;
    link.run(() => r.closed, 1_000_000);
    expect(r.error?.code).toBe("ETIMEDOUT");
    // 1 s initial RTO, then ≥ 3 s (RFC 6298 §5.7) doubling over 6 retries.
    expect(link.now - start).toBeGreaterThan(60_000);
    expect(link.sent.a).toBe(7);
  });

  it("abort() sends RST: the peer sees ECONNRESET and both sides forget the connection", () => {
    const link = new Link(23);
    const { client, server } = openPair(link);
    server.conn.abort();
    link.run(() => client.closed);
    expect(client.error?.code).toBe("ECONNRESET");
    expect(server.closed).toBe(true);
    expect(server.error).toBeUndefined();
    expect(link.a.connectionCount + link.b.connectionCount).toBe(0);
  });

  it("close() with unread data resets instead of a FIN (RFC 1122 §4.2.2.13)", () => {
    const link = new Link(24);
    const { client, server } = openPair(link, 80, false);
    client.conn.write(Uint8Array.of(1, 2, 3));
    link.run(() => server.conn.readableLength === 3);
    server.conn.close();
    link.run(() => client.closed);
    expect(client.error?.code).toBe("ECONNRESET");
  });

  it("write after shutdownWrite throws EPIPE", () => {
    const link = new Link(25);
    const { client } = openPair(link);
    client.conn.shutdownWrite();
    expect(() => client.conn.write(Uint8Array.of(1))).toThrowError(/EPIPE/);
  });

  it("listen on a port in use throws EADDRINUSE", () => {
    const link = new Link(26);
    const l = link.b.listen(null, 80, {}, () => {});
    expect(() => link.b.listen(ADDR_B, 80, {}, () => {})).toThrowError(
      expect.objectContaining({ code: "EADDRINUSE" }),
    );
    l.close();
    link.b.listen(ADDR_B, 80, {}, () => {}).close();
  });
});
