/**
 * The SOCKS5 server over the host transport on loopback: curl and a raw client as the clients,
 * real TCP and UDP servers as the targets. What runs through the tunnel is tested in
 * test/proxy-netns.test.ts; here the protocol and the limits.
 */
import { createSocket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostTransport } from "../../src/proxy/host-transport.js";
import { encodeUdpDatagram, parseUdpDatagram } from "../../src/proxy/socks5-codec.js";
import { Socks5Server } from "../../src/proxy/socks5-server.js";
import { ProxyStats } from "../../src/proxy/stats.js";
import { closeAll, curl, echoServer, httpOrigin, RawClient, udpEcho } from "./support.js";

const greetNoAuth = Uint8Array.of(5, 1, 0);
const connectV4 = (port: number) => Uint8Array.of(5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 255);

describe("SOCKS5 server (RFC 1928) over host sockets", () => {
  const stats = new ProxyStats();
  let open: Socks5Server;
  let authed: Socks5Server;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let origin: Awaited<ReturnType<typeof httpOrigin>>;
  let udp: Awaited<ReturnType<typeof udpEcho>>;

  beforeAll(async () => {
    echo = await echoServer();
    origin = await httpOrigin();
    udp = await udpEcho();
    const base = { transport: hostTransport, stats, limits: { handshakeTimeoutMs: 500 } };
    open = await Socks5Server.start({ ...base, listen: { host: "127.0.0.1", port: 0 } });
    authed = await Socks5Server.start({
      ...base,
      listen: { host: "127.0.0.1", port: 0 },
      credentials: { username: "alice", password: "s3cret" },
    });
  });
  afterAll(async () => {
    await open.close();
    await authed.close();
    await closeAll(echo.server, origin.server, udp.socket);
  });

  it("carries curl --socks5-hostname to an HTTP origin by name", async () => {
    const r = await curl([
      "--socks5-hostname",
      `127.0.0.1:${open.address.port}`,
      `http://localhost:${origin.port}/hello`,
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("origin saw GET /hello");
  });

  it("authenticates with RFC 1929 and refuses a wrong password", async () => {
    const ok = await curl([
      "--socks5-hostname",
      `127.0.0.1:${authed.address.port}`,
      "--proxy-user",
      "alice:s3cret",
      `http://127.0.0.1:${origin.port}/x`,
    ]);
    expect(ok.stdout).toContain("origin saw GET /x");
    const before = stats.refusedCount("socks5", "auth_failed");
    const bad = await curl([
      "--socks5-hostname",
      `127.0.0.1:${authed.address.port}`,
      "--proxy-user",
      "alice:wrong",
      `http://127.0.0.1:${origin.port}/x`,
    ]);
    expect(bad.code).not.toBe(0);
    expect(stats.refusedCount("socks5", "auth_failed")).toBe(before + 1);
    // A client offering only "no auth" to a server that requires it gets 0xFF.
    const c = await RawClient.connect(authed.address.port);
    c.send(greetNoAuth);
    expect([...(await c.read(2))]).toEqual([5, 0xff]);
    await c.closed;
  });

  it("CONNECTs to IPv4, IPv6 and domain targets byte-exact, with data sent right after the request", async () => {
    const v6 = await echoServer("::1");
    try {
      const requests = [
        connectV4(echo.port),
        Uint8Array.of(5, 1, 0, 4, ...new Array(15).fill(0), 1, v6.port >> 8, v6.port & 255),
        Uint8Array.of(5, 1, 0, 3, 9, ...Buffer.from("localhost"), echo.port >> 8, echo.port & 255),
      ];
      for (const req of requests) {
        const c = await RawClient.connect(open.address.port);
        const payload = Buffer.alloc(200_000);
        for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 255;
        // Greeting, request and the first data in one write (clients pipeline).
        c.send(Buffer.concat([greetNoAuth, req, payload]));
        expect([...(await c.read(2))]).toEqual([5, 0]);
        const head = await c.read(4);
        expect([head[0], head[1]]).toEqual([5, 0]);
        await c.read(head[3] === 4 ? 18 : 6);
        expect((await c.read(payload.length)).equals(payload)).toBe(true);
        c.destroy();
      }
    } finally {
      await closeAll(v6.server);
    }
  });

  it("answers connection refused (REP 5) for a closed port", async () => {
    const closed = await echoServer();
    const port = closed.port;
    await closeAll(closed.server);
    const c = await RawClient.connect(open.address.port);
    c.send(Buffer.concat([greetNoAuth, connectV4(port)]));
    await c.read(2);
    expect([...(await c.read(2))]).toEqual([5, 5]);
    await c.closed;
  });

  it("relays UDP through UDP ASSOCIATE (FRAG 0) and drops fragments", async () => {
    const c = await RawClient.connect(open.address.port);
    c.send(Buffer.concat([greetNoAuth, Uint8Array.of(5, 3, 0, 1, 0, 0, 0, 0, 0, 0)]));
    await c.read(2);
    const reply = await c.read(10);
    expect([reply[0], reply[1], reply[3]]).toEqual([5, 0, 1]);
    const relayPort = reply.readUInt16BE(8);
    const u = createSocket("udp4");
    await new Promise<void>((r) => u.bind(0, "127.0.0.1", r));
    const got = new Promise<Buffer>((r) => u.once("message", r));
    const before = stats.refusedCount("socks5", "udp_fragment");
    // A fragment (FRAG 1) first: dropped and counted, never forwarded.
    const frag = encodeUdpDatagram("127.0.0.1", udp.port, Buffer.from("frag"));
    frag[2] = 1;
    u.send(frag, relayPort, "127.0.0.1");
    u.send(encodeUdpDatagram("127.0.0.1", udp.port, Buffer.from("ping")), relayPort, "127.0.0.1");
    const d = parseUdpDatagram(await got);
    if ("error" in d) throw new Error(d.error);
    expect(Buffer.from(d.data).toString()).toBe("echo:ping");
    expect(d.dst).toMatchObject({ host: "127.0.0.1", port: udp.port });
    expect(stats.refusedCount("socks5", "udp_fragment")).toBe(before + 1);
    u.close();
    c.destroy();
  });

  it("answers hostile handshakes with the protocol's error and stays up for others", async () => {
    const cases: Array<{ send: Uint8Array; expect: number[]; reason: string }> = [
      { send: Uint8Array.of(4, 1, 0), expect: [], reason: "bad_version" },
      { send: Uint8Array.of(5, 0), expect: [], reason: "no_methods" },
      {
        send: Uint8Array.of(5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80),
        expect: [5, 0, 5, 7],
        reason: "command_not_supported",
      },
      {
        send: Uint8Array.of(5, 1, 0, 5, 1, 0, 9, 1, 2),
        expect: [5, 0, 5, 8],
        reason: "bad_address_type",
      },
      {
        send: Uint8Array.of(5, 1, 0, 5, 1, 7, 1, 127, 0, 0, 1, 0, 80),
        expect: [5, 0, 5, 1],
        reason: "bad_reserved",
      },
      {
        send: Uint8Array.of(5, 1, 0, 5, 1, 0, 3, 3, 0x61, 0, 0x62, 0, 80),
        expect: [5, 0, 5, 1],
        reason: "bad_domain",
      },
    ];
    for (const k of cases) {
      const before = stats.refusedCount("socks5", k.reason);
      const c = await RawClient.connect(open.address.port);
      c.send(k.send);
      const got = await c.rest();
      expect([...got.subarray(0, k.expect.length)]).toEqual(k.expect);
      expect(stats.refusedCount("socks5", k.reason)).toBe(before + 1);
    }
    // Oversized: a never-ending handshake is cut off at the byte limit.
    const big = await RawClient.connect(open.address.port);
    big.send(Uint8Array.of(5, 255));
    big.send(Buffer.alloc(4096, 1));
    await big.closed;
    // Slowloris: half a greeting, then nothing; closed after the handshake timeout while a
    // well-behaved client is served meanwhile.
    const before = stats.refusedCount("socks5", "handshake_timeout");
    const slow = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const s = await RawClient.connect(open.address.port);
        s.send(Uint8Array.of(5));
        return s;
      }),
    );
    const good = await curl([
      "--socks5",
      `127.0.0.1:${open.address.port}`,
      `http://127.0.0.1:${origin.port}/ok`,
    ]);
    expect(good.stdout).toContain("origin saw GET /ok");
    await Promise.all(slow.map((s) => s.closed));
    expect(stats.refusedCount("socks5", "handshake_timeout")).toBeGreaterThanOrEqual(before + 50);
    // Refused clients that never close are dropped by the server within a few seconds.
    await expect.poll(() => open.connections, { timeout: 4_000 }).toBe(0);
  });
});
