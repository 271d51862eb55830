/**
 * Hostile clients and hostile local services on the TCP/UDP forwards (client and server tunnels),
 * over host sockets on loopback: a refusing, resetting or silent target; clients that reset,
 * half-close early, stop reading or flood the listener; floods of UDP sources. Each gets a clear
 * signal (a reset, a counted refusal), memory stays bounded, and other clients are served.
 * The same forwards over the netstack: test/proxy-forward-netstack.test.ts.
 */
import { createHash } from "node:crypto";
import { createSocket } from "node:dgram";
import { createServer, Socket as NetSocket, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostTransport } from "../../src/proxy/host-transport.js";
import { ProxyStats } from "../../src/proxy/stats.js";
import { TcpForward } from "../../src/proxy/tcp-forward.js";
import type { Transport } from "../../src/proxy/transport.js";
import { UdpForward } from "../../src/proxy/udp-forward.js";
import { closeAll, connectTo, echoServer, howItEnds, udpEcho, withForward } from "./support.js";

/** A target that echoes, except that a connection whose first bytes are "RESET" is reset. */
async function resettingEcho(): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.once("data", (d) => {
      if (d.subarray(0, 5).toString() === "RESET") {
        s.resetAndDestroy();
        return;
      }
      s.write(d);
      s.pipe(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return { server, port: typeof a === "object" && a ? a.port : 0 };
}

/** Echoes `n` bytes through `port` and resolves with whether they came back byte-exact. */
async function echoes(port: number, n: number): Promise<boolean> {
  const c = await connectTo(port);
  const payload = Buffer.alloc(n);
  for (let i = 0; i < n; i++) payload[i] = (i * 31) & 255;
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((r) => {
    c.on("data", (d) => chunks.push(d));
    c.once("end", () => r());
    c.once("error", () => r());
  });
  c.end(payload);
  await ended;
  c.destroy();
  return Buffer.concat(chunks).equals(payload);
}

/** The host transport, with connects that start `delayMs` late or never at all. */
function slowTarget(delayMs: number | "never"): Transport {
  return {
    ...hostTransport,
    connect(opts) {
      const s = new NetSocket({ allowHalfOpen: true });
      if (delayMs !== "never") {
        const t = setTimeout(() => s.connect(opts.port, opts.host), delayMs);
        s.once("close", () => clearTimeout(t));
      }
      return s;
    },
  };
}

describe("TCP forwards against hostile clients and local services", () => {
  const stats = new ProxyStats();
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let resetting: Awaited<ReturnType<typeof resettingEcho>>;

  beforeAll(async () => {
    echo = await echoServer();
    resetting = await resettingEcho();
  });
  afterAll(() => closeAll(echo.server, resetting.server));

  it("resets the client when the local service refuses, and counts it", async () => {
    const closed = await echoServer();
    await closeAll(closed.server);
    const target = { host: "127.0.0.1", port: closed.port };
    await withForward(TcpForward.start, { kind: "tcp_server", stats, target }, async (fwd) => {
      const before = stats.refusedCount("tcp_server", "connect_failed");
      const c = await connectTo(fwd.address.port);
      expect(await howItEnds(c)).toBe("reset");
      expect(stats.refusedCount("tcp_server", "connect_failed")).toBe(before + 1);
    });
  });

  it("passes a reset by the local service on to its client while another client's transfer goes on", async () => {
    const target = { host: "127.0.0.1", port: resetting.port };
    await withForward(TcpForward.start, { kind: "tcp_server", stats, target }, async (fwd) => {
      const other = echoes(fwd.address.port, 4 << 20);
      const c = await connectTo(fwd.address.port);
      const how = howItEnds(c);
      c.write("RESET please");
      expect(await how).toBe("reset");
      expect(await other).toBe(true);
      await expect.poll(() => fwd.connections).toBe(0);
    });
  });

  it("closes the connection to the target when a client resets mid-stream", async () => {
    const seen: Socket[] = [];
    const target = createServer({ allowHalfOpen: true }, (s) => {
      seen.push(s);
      s.on("error", () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    const port = (target.address() as { port: number }).port;
    try {
      const t = { host: "127.0.0.1", port };
      await withForward(TcpForward.start, { kind: "tcp_client", stats, target: t }, async (fwd) => {
        const c = await connectTo(fwd.address.port);
        c.write(Buffer.alloc(100_000));
        await expect.poll(() => seen.length).toBe(1);
        const targetSide = howItEnds(seen[0]);
        c.resetAndDestroy();
        // The target sees the cut as a reset, not as a clean end of the client's data.
        expect(await targetSide).toBe("reset");
        await expect.poll(() => fwd.connections).toBe(0);
        expect(stats.active.get("tcp_client")).toBe(0);
      });
    } finally {
      await closeAll(target);
    }
  });

  it("serves a client that sends and half-closes before the target has answered", async () => {
    const target = { host: "127.0.0.1", port: echo.port };
    // The target is dialled 300 ms late: the client's data and FIN wait in its window.
    const opts = { kind: "tcp_client" as const, stats, target, transport: slowTarget(300) };
    await withForward(TcpForward.start, opts, async (fwd) => {
      const c = await connectTo(fwd.address.port);
      const got: Buffer[] = [];
      c.on("data", (d) => got.push(d));
      const how = howItEnds(c);
      c.end("request, then FIN at once");
      expect(await how).toBe("end");
      expect(Buffer.concat(got).toString()).toBe("request, then FIN at once");
    });
  });

  it("gives up on a target that never answers after connectTimeoutMs, with a reset", async () => {
    const target = { host: "127.0.0.1", port: echo.port };
    const opts = {
      kind: "tcp_client" as const,
      stats,
      target,
      transport: slowTarget("never"),
      limits: { connectTimeoutMs: 300 },
    };
    await withForward(TcpForward.start, opts, async (fwd) => {
      const before = stats.refusedCount("tcp_client", "connect_failed");
      const c = await connectTo(fwd.address.port);
      c.write("anyone there?");
      expect(await howItEnds(c)).toBe("reset");
      expect(stats.refusedCount("tcp_client", "connect_failed")).toBe(before + 1);
      await expect.poll(() => fwd.connections).toBe(0);
    });
  });

  it("refuses a flood beyond maxConnections, counts it, and serves clients once it ends", async () => {
    const target = { host: "127.0.0.1", port: echo.port };
    const opts = { kind: "tcp_client" as const, stats, target, limits: { maxConnections: 20 } };
    await withForward(TcpForward.start, opts, async (fwd) => {
      const before = stats.refusedCount("tcp_client", "too_many_connections");
      const flood = await Promise.all(
        Array.from({ length: 60 }, () => connectTo(fwd.address.port)),
      );
      const ends = flood.map((s) => howItEnds(s));
      await expect
        .poll(() => stats.refusedCount("tcp_client", "too_many_connections"))
        .toBe(before + 40);
      expect(fwd.connections).toBe(20);
      for (const s of flood) s.destroy();
      await Promise.all(ends);
      await expect.poll(() => fwd.connections).toBe(0);
      expect(await echoes(fwd.address.port, 1 << 20)).toBe(true);
    });
  });

  it("stops reading from the target while its client does not read (bounded buffering)", async () => {
    const total = 64 << 20;
    const firehose = createServer((s) => {
      s.on("error", () => {});
      const chunk = Buffer.alloc(1 << 20, 7);
      let sent = 0;
      const more = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once("drain", more);
        }
        s.end();
      };
      more();
    });
    await new Promise<void>((r) => firehose.listen(0, "127.0.0.1", r));
    const port = (firehose.address() as { port: number }).port;
    const own = new ProxyStats();
    try {
      const target = { host: "127.0.0.1", port };
      const opts = { kind: "tcp_client" as const, stats: own, target };
      await withForward(TcpForward.start, opts, async (fwd) => {
        const c = await connectTo(fwd.address.port);
        c.pause();
        await new Promise((r) => setTimeout(r, 1_500));
        // What the forward took from the target is bounded by the client's socket buffers.
        expect(own.bytesDown).toBeLessThan(24 << 20);
        const hash = createHash("sha256");
        let got = 0;
        c.on("data", (d) => {
          got += d.length;
          hash.update(d);
        });
        c.resume();
        await new Promise((r) => c.once("end", r));
        expect(got).toBe(total);
        c.destroy();
      });
    } finally {
      await closeAll(firehose);
    }
  });
});

describe("UDP forwards against floods and oversized datagrams", () => {
  const stats = new ProxyStats();
  let udp: Awaited<ReturnType<typeof udpEcho>>;

  beforeAll(async () => {
    udp = await udpEcho();
  });
  afterAll(() => closeAll(udp.socket));

  async function bound(n: number) {
    return Promise.all(
      Array.from({ length: n }, async () => {
        const s = createSocket("udp4");
        await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
        return s;
      }),
    );
  }

  it("keeps at most maxUdpSessions under a flood of sources and answers a new client", async () => {
    const target = { host: "127.0.0.1", port: udp.port };
    const opts = { kind: "udp_client" as const, stats, target, limits: { maxUdpSessions: 16 } };
    await withForward(UdpForward.start, opts, async (fwd) => {
      const flood = await bound(200);
      for (const s of flood) s.send("flood", fwd.address.port, "127.0.0.1");
      await expect
        .poll(() => stats.refusedCount("udp_client", "session_evicted"), { timeout: 5_000 })
        .toBeGreaterThanOrEqual(184);
      expect(fwd.sessionCount).toBeLessThanOrEqual(16);
      const [late] = await bound(1);
      const reply = new Promise<string>((r) => late.once("message", (m) => r(String(m))));
      late.send("late", fwd.address.port, "127.0.0.1");
      expect(await reply).toBe("echo:late");
      for (const s of [...flood, late]) s.close();
    });
  });

  it("carries a 60,000-byte datagram both ways", async () => {
    const target = { host: "127.0.0.1", port: udp.port };
    await withForward(UdpForward.start, { kind: "udp_server", stats, target }, async (fwd) => {
      const [c] = await bound(1);
      const big = Buffer.alloc(60_000, 0x5a);
      const reply = new Promise<Buffer>((r) => c.once("message", r));
      c.send(big, fwd.address.port, "127.0.0.1");
      const got = await reply;
      expect(got.length).toBe(big.length + 5);
      expect(got.subarray(5).equals(big)).toBe(true);
      c.close();
    });
  });
});
