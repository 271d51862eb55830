/**
 * The proxy's forwards with the netstack on one side, through a WireGuard tunnel between two
 * in-process netstack Devices (test/support/netstack-pair.ts): a server tunnel listening on b's
 * tunnel address in front of a host service that refuses or resets, floods of half-open clients
 * from a, and a UDP client tunnel whose datagram is too large for the tunnel. The host-socket
 * cases: packages/mesh/test/proxy/forward-hostile.test.ts.
 */
import { createSocket } from "node:dgram";
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostTransport } from "../packages/mesh/src/proxy/host-transport.js";
import { stackTransport } from "../packages/mesh/src/proxy/stack-transport.js";
import { ProxyStats } from "../packages/mesh/src/proxy/stats.js";
import { TcpForward } from "../packages/mesh/src/proxy/tcp-forward.js";
import type { StreamSocket } from "../packages/mesh/src/proxy/transport.js";
import { UdpForward } from "../packages/mesh/src/proxy/udp-forward.js";
import { type NetstackPair, netstackPair } from "./support/netstack-pair.js";

/** How a client socket ended: "reset", "end" (a clean FIN) or another error code. */
function howItEnds(s: Duplex): Promise<string> {
  if (s.listenerCount("data") === 0) s.resume();
  return new Promise((resolve) => {
    s.once("error", (e: NodeJS.ErrnoException) =>
      resolve(e.code === "ECONNRESET" ? "reset" : (e.code ?? "error")),
    );
    s.once("end", () => resolve("end"));
    s.once("close", () => resolve("closed"));
  });
}

/**
 * A host service on 127.0.0.1: echoes (ending its side after the client's FIN), except that a
 * connection saying "RESET" is reset. `close` ends its connections too.
 */
async function hostService(): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    open.add(s);
    s.once("close", () => open.delete(s));
    s.on("error", () => {});
    s.once("end", () => s.end());
    s.once("data", (d) => {
      if (d.toString().startsWith("RESET")) return void s.resetAndDestroy();
      s.write(d);
      s.pipe(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const close = () =>
    new Promise<void>((r) => {
      for (const s of open) s.destroy();
      server.close(() => r());
    });
  return { server, port: (server.address() as { port: number }).port, close };
}

describe("forwards over the netstack against hostile clients and local services", () => {
  let pair: NetstackPair;
  let service: Awaited<ReturnType<typeof hostService>>;
  const stats = new ProxyStats();
  /** Server tunnels on b's tunnel address: 7000 → the service, 7001 → a closed port. */
  const forwards: TcpForward[] = [];

  const dial = (port: number): Promise<StreamSocket> =>
    new Promise((resolve, reject) => {
      const s = pair.a.connect({ host: "198.19.7.2", port, allowHalfOpen: true });
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    });

  beforeAll(async () => {
    pair = await netstackPair();
    service = await hostService();
    const closed = await hostService();
    await closed.close();
    for (const [port, target] of [
      [7000, service.port],
      [7001, closed.port],
    ]) {
      forwards.push(
        await TcpForward.start({
          kind: "tcp_server",
          transport: hostTransport,
          listenOn: stackTransport(pair.b),
          listen: { host: "", port },
          target: { host: "127.0.0.1", port: target },
          stats,
        }),
      );
    }
  });
  afterAll(async () => {
    for (const f of forwards) await f.close();
    await service.close();
    await pair.close();
  });

  it("resets a tunnel client whose local service refuses, and counts it", async () => {
    const before = stats.refusedCount("tcp_server", "connect_failed");
    const c = await dial(7001);
    expect(await howItEnds(c)).toBe("reset");
    expect(stats.refusedCount("tcp_server", "connect_failed")).toBe(before + 1);
  });

  it("passes a reset by the local service on to the tunnel client, others unaffected", async () => {
    const good = await dial(7000);
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 13) & 255;
    const got: Buffer[] = [];
    good.on("data", (d: Buffer) => got.push(d));
    const goodEnd = howItEnds(good);
    const bad = await dial(7000);
    const badEnd = howItEnds(bad);
    bad.write("RESET now");
    good.end(payload);
    expect(await badEnd).toBe("reset");
    expect(await goodEnd).toBe("end");
    expect(Buffer.concat(got).equals(payload)).toBe(true);
  });

  it("serves a client while 300 half-open clients hold connections, then frees them all", async () => {
    const idle = await Promise.all(Array.from({ length: 300 }, () => dial(7000)));
    await expect.poll(() => forwards[0].connections, { timeout: 10_000 }).toBe(300);
    const c = await dial(7000);
    const got: Buffer[] = [];
    c.on("data", (d: Buffer) => got.push(d));
    const end = howItEnds(c);
    c.end("still served");
    expect(await end).toBe("end");
    expect(Buffer.concat(got).toString()).toBe("still served");
    for (const s of idle) s.destroy();
    await expect.poll(() => forwards[0].connections, { timeout: 10_000 }).toBe(0);
    expect(stats.active.get("tcp_server")).toBe(0);
  }, 30_000);

  it("counts a datagram too large for the tunnel (IPv6, no fragmentation) and carries the rest", async () => {
    const echo = pair.b.createSocket("udp6");
    echo.on("message", (m: Buffer, r: { address: string; port: number }) =>
      echo.send(m, r.port, r.address),
    );
    await new Promise<void>((r) => echo.bind(7, "fd00:19:7::2", () => r()));
    const own = new ProxyStats();
    const fwd = await UdpForward.start({
      kind: "udp_client",
      transport: stackTransport(pair.a),
      listen: { host: "127.0.0.1", port: 0 },
      target: { host: "fd00:19:7::2", port: 7 },
      stats: own,
    });
    const client = createSocket("udp4");
    try {
      await new Promise<void>((r) => client.bind(0, "127.0.0.1", r));
      const replies: Buffer[] = [];
      client.on("message", (m) => replies.push(m));
      client.send(Buffer.alloc(4000, 1), fwd.address.port, "127.0.0.1");
      await expect.poll(() => own.refusedCount("udp_client", "send_failed")).toBe(1);
      client.send(Buffer.from("small"), fwd.address.port, "127.0.0.1");
      await expect.poll(() => replies.length, { timeout: 5_000 }).toBe(1);
      expect(replies[0].toString()).toBe("small");
    } finally {
      client.close();
      await fwd.close();
      echo.close();
    }
  });
});
