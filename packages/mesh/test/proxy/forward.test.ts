/**
 * TCP and UDP port forwards over host sockets on loopback: byte-exact data both ways, half-close
 * carried across, UDP sessions per source with a cap. Hostile clients and targets:
 * forward-hostile.test.ts.
 */
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyStats } from "../../src/proxy/stats.js";
import { TcpForward } from "../../src/proxy/tcp-forward.js";
import { UdpForward } from "../../src/proxy/udp-forward.js";
import { closeAll, echoServer, udpEcho, withForward } from "./support.js";

describe("port forwards over host sockets", () => {
  const stats = new ProxyStats();
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let udp: Awaited<ReturnType<typeof udpEcho>>;

  beforeAll(async () => {
    echo = await echoServer();
    udp = await udpEcho();
  });
  afterAll(() => closeAll(echo.server, udp.socket));

  it("carries 20 MB each way byte-exact through a TCP forward, half-close included", async () => {
    const target = { host: "127.0.0.1", port: echo.port };
    await withForward(TcpForward.start, { kind: "tcp_client", stats, target }, async (fwd) => {
      const c = connect({ port: fwd.address.port, host: "127.0.0.1", allowHalfOpen: true });
      const sent = createHash("sha256");
      const got = createHash("sha256");
      let received = 0;
      const total = 20 << 20;
      const done = new Promise<void>((resolve) => {
        c.on("data", (d) => {
          got.update(d);
          received += d.length;
        });
        // The echo ends its side only after our FIN crossed the forward (half-close both ways).
        c.on("end", () => resolve());
      });
      const chunk = Buffer.alloc(64 * 1024);
      for (let off = 0; off < total; off += chunk.length) {
        for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((off + i) >>> 0, i);
        sent.update(chunk);
        if (!c.write(chunk)) await new Promise((r) => c.once("drain", r));
      }
      c.end();
      await done;
      expect(received).toBe(total);
      expect(got.digest("hex")).toBe(sent.digest("hex"));
      c.destroy();
    });
  });

  it("forwards UDP per source with replies back, evicting beyond the session cap", async () => {
    const target = { host: "localhost", port: udp.port };
    const opts = { kind: "udp_client" as const, stats, target, limits: { maxUdpSessions: 2 } };
    await withForward(UdpForward.start, opts, async (fwd) => {
      const clients = await Promise.all(
        [0, 1, 2].map(async () => {
          const s = createSocket("udp4");
          await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
          return s;
        }),
      );
      for (const [i, s] of clients.entries()) {
        const reply = new Promise<string>((r) => s.once("message", (m) => r(String(m))));
        s.send(`hello ${i}`, fwd.address.port, "127.0.0.1");
        expect(await reply).toBe(`echo:hello ${i}`);
      }
      expect(fwd.sessionCount).toBe(2);
      expect(stats.refusedCount("udp_client", "session_evicted")).toBe(1);
      for (const s of clients) s.close();
    });
  });
});
