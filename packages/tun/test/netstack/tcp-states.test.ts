import { describe, expect, it } from "vitest";
import { F, parsed } from "./tcp-craft.js";
import { ADDR_A, ADDR_B, Link } from "./tcp-link.js";
import { equalBytes, openPair, pattern, Recorder, writeAll } from "./tcp-pair.js";

describe("TCP state machine (RFC 9293 §3.3.2)", () => {
  it("half-close client→server: the server keeps sending after the client's FIN", () => {
    const link = new Link(31);
    const { client, server } = openPair(link);
    client.conn.shutdownWrite();
    link.run(() => server.ended);
    expect(server.conn.state).toBe("CLOSE_WAIT");
    const data = pattern(300_000, 3);
    writeAll(link, server.conn, data);
    server.conn.shutdownWrite();
    expect(server.conn.state).toBe("LAST_ACK");
    link.run(() => client.ended && server.closed);
    expect(equalBytes(client.bytes(), data)).toBe(true);
    expect(client.conn.state).toBe("TIME_WAIT");
    expect(server.conn.state).toBe("CLOSED");
  });

  it("half-close server→client: the client keeps sending after the server's FIN", () => {
    const link = new Link(32);
    const { client, server } = openPair(link);
    server.conn.shutdownWrite();
    link.run(() => client.ended);
    expect(client.conn.state).toBe("CLOSE_WAIT");
    const data = pattern(200_000, 4);
    writeAll(link, client.conn, data);
    client.conn.close();
    link.run(() => server.ended && client.closed);
    expect(equalBytes(server.bytes(), data)).toBe(true);
    expect(server.conn.state).toBe("TIME_WAIT");
  });

  it("simultaneous close goes through CLOSING to TIME_WAIT on both sides", () => {
    const link = new Link(33, { delayMs: 10 });
    const { client, server } = openPair(link);
    client.conn.shutdownWrite();
    server.conn.shutdownWrite();
    let sawClosing = false;
    link.run(() => {
      if (client.conn.state === "CLOSING" || server.conn.state === "CLOSING") sawClosing = true;
      return client.conn.state === "TIME_WAIT" && server.conn.state === "TIME_WAIT";
    });
    expect(sawClosing).toBe(true);
    expect(client.closed && server.closed).toBe(true);
    link.advance(60_001);
    expect(link.a.connectionCount + link.b.connectionCount).toBe(0);
  });

  it("simultaneous open (MUST-10): two SYNs cross and both sides reach ESTABLISHED", () => {
    const link = new Link(34, { delayMs: 10 });
    const a = new Recorder(
      link.a.connect(
        { address: ADDR_A, port: 5000 },
        { address: ADDR_B, port: 6000 },
        {},
        link.now,
      ),
    );
    const b = new Recorder(
      link.b.connect(
        { address: ADDR_B, port: 6000 },
        { address: ADDR_A, port: 5000 },
        {},
        link.now,
      ),
    );
    link.run(() => a.connected && b.connected);
    expect(a.conn.state).toBe("ESTABLISHED");
    expect(b.conn.state).toBe("ESTABLISHED");
    a.conn.write(Uint8Array.of(1, 2, 3));
    link.run(() => b.received === 3);
  });

  it("TIME_WAIT re-ACKs a retransmitted FIN (the last ACK was lost) and restarts 2·MSL", () => {
    const link = new Link(35, {}, { timeWaitMs: 10_000 });
    const { client, server } = openPair(link);
    client.conn.shutdownWrite();
    link.run(() => client.conn.state === "FIN_WAIT_2");
    let dropped = 0;
    let armed = false;
    link.filter = (to, seg) => {
      // Drop the client's first ACK of the server's FIN.
      if (armed && to === "b" && dropped === 0 && parsed(seg).flags === F.ACK) {
        dropped++;
        return false;
      }
      return true;
    };
    armed = true;
    server.conn.close();
    link.run(() => server.conn.state === "CLOSED", 30_000);
    expect(dropped).toBe(1);
    expect(client.conn.state).toBe("TIME_WAIT");
    link.advance(10_001);
    expect(client.conn.state).toBe("CLOSED");
  });

  it("a new SYN above the old sequence reopens a TIME_WAIT port (RFC 9293 §3.10.7.4, RFC 6191)", () => {
    const link = new Link(36);
    const { client, server } = openPair(link, 80);
    const port = client.conn.localPort;
    server.conn.shutdownWrite();
    link.run(() => client.ended);
    client.conn.close();
    link.run(() => server.conn.state === "TIME_WAIT");
    // B (server side) is in TIME_WAIT; A connects again from the same port.
    link.advance(1000);
    const again = new Recorder(
      link.a.connect({ address: ADDR_A, port }, { address: ADDR_B, port: 80 }, {}, link.now),
    );
    link.run(() => again.connected || again.closed);
    expect(again.connected).toBe(true);
  });
});
