import { describe, expect, it } from "vitest";
import { Link } from "./tcp-link.js";
import { equalBytes, openPair, pattern, writeAll } from "./tcp-pair.js";

describe("TCP over an in-memory link", () => {
  it("completes the three-way handshake and carries data both ways", () => {
    const link = new Link(1);
    const { client, server } = openPair(link);
    expect(client.conn.state).toBe("ESTABLISHED");
    expect(server.conn.state).toBe("ESTABLISHED");
    client.conn.write(new TextEncoder().encode("hello"));
    server.conn.write(new TextEncoder().encode("world!"));
    link.run(() => client.received === 6 && server.received === 5);
    expect(new TextDecoder().decode(server.bytes())).toBe("hello");
    expect(new TextDecoder().decode(client.bytes())).toBe("world!");
  });

  it("closes gracefully: FIN both ways, the active closer lingers in TIME_WAIT then is gone", () => {
    const link = new Link(2, {}, { timeWaitMs: 5000 });
    const { client, server } = openPair(link);
    client.conn.shutdownWrite();
    expect(client.conn.state).toBe("FIN_WAIT_1");
    link.run(() => server.ended);
    expect(server.conn.state).toBe("CLOSE_WAIT");
    link.run(() => client.conn.state === "FIN_WAIT_2");
    server.conn.close();
    link.run(() => client.conn.state === "TIME_WAIT" && server.closed);
    expect(server.conn.state).toBe("CLOSED");
    expect(client.closed).toBe(true);
    expect(client.error).toBeUndefined();
    expect(link.a.connectionCount).toBe(1);
    link.advance(5001);
    expect(client.conn.state).toBe("CLOSED");
    expect(link.a.connectionCount).toBe(0);
    expect(link.b.connectionCount).toBe(0);
  });

  it("transfers 2 MiB byte-exact both ways over a clean link", () => {
    const link = new Link(3);
    const { client, server } = openPair(link);
    const up = pattern(2 << 20, 7);
    const down = pattern(2 << 20, 9);
    writeAll(link, client.conn, up);
    writeAll(link, server.conn, down);
    expect(link.run(() => server.received === up.length && client.received === down.length)).toBe(
      true,
    );
    expect(equalBytes(server.bytes(), up)).toBe(true);
    expect(equalBytes(client.bytes(), down)).toBe(true);
  });

  for (const seed of [11, 12, 13]) {
    it(`transfers 1 MiB byte-exact under 3% loss, 1% duplication and reordering (seed ${seed})`, () => {
      const link = new Link(seed, { loss: 0.03, duplicate: 0.01, delayMs: 5, jitterMs: 4 });
      const { client, server } = openPair(link);
      const data = pattern(1 << 20, seed);
      writeAll(link, client.conn, data);
      client.conn.shutdownWrite();
      expect(link.run(() => server.ended)).toBe(true);
      expect(equalBytes(server.bytes(), data)).toBe(true);
      expect(link.lost).toBeGreaterThan(0);
    });
  }
});
