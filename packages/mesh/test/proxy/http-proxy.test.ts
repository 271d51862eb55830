/**
 * The HTTP proxy over the host transport on loopback: curl through it with CONNECT
 * (--proxytunnel) and with absolute-form requests, Basic auth, and hostile clients.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostTransport } from "../../src/proxy/host-transport.js";
import { HttpProxy } from "../../src/proxy/http-proxy.js";
import { ProxyStats } from "../../src/proxy/stats.js";
import { closeAll, curl, echoServer, httpOrigin, RawClient } from "./support.js";

describe("HTTP proxy (CONNECT and absolute-form) over host sockets", () => {
  const stats = new ProxyStats();
  let open: HttpProxy;
  let authed: HttpProxy;
  let origin: Awaited<ReturnType<typeof httpOrigin>>;
  let echo: Awaited<ReturnType<typeof echoServer>>;

  beforeAll(async () => {
    origin = await httpOrigin();
    echo = await echoServer();
    const base = {
      transport: hostTransport,
      stats,
      limits: { handshakeTimeoutMs: 1_000, maxHeaderBytes: 4096 },
    };
    open = await HttpProxy.start({ ...base, listen: { host: "127.0.0.1", port: 0 } });
    authed = await HttpProxy.start({
      ...base,
      listen: { host: "127.0.0.1", port: 0 },
      credentials: { username: "bob", password: "pa:ss" },
    });
  });
  afterAll(async () => {
    await open.close();
    await authed.close();
    await closeAll(origin.server, echo.server);
  });

  it("forwards an absolute-form request in origin-form, hop-by-hop headers stripped", async () => {
    const r = await curl([
      "-x",
      `http://127.0.0.1:${open.address.port}`,
      "-H",
      "Proxy-Authorization: Basic Zm9vOmJhcg==",
      "-d",
      "payload",
      `http://localhost:${origin.port}/path?q=1`,
    ]);
    expect(r.stdout).toBe(
      `origin saw POST /path?q=1 host=localhost:${origin.port} proxy-auth=none body=payload`,
    );
  });

  it("tunnels CONNECT (curl --proxytunnel)", async () => {
    const r = await curl([
      "-p",
      "-x",
      `http://127.0.0.1:${open.address.port}`,
      `http://127.0.0.1:${origin.port}/t`,
    ]);
    expect(r.stdout).toContain("origin saw GET /t");
  });

  it("asks for credentials with 407 and accepts the right ones (a colon in the password)", async () => {
    const none = await curl([
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-x",
      `http://127.0.0.1:${authed.address.port}`,
      `http://127.0.0.1:${origin.port}/`,
    ]);
    expect(none.stdout).toBe("407");
    const wrong = await curl([
      "-p",
      "-x",
      `http://bob:nope@127.0.0.1:${authed.address.port}`,
      `http://127.0.0.1:${origin.port}/`,
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/407/);
    const right = await curl([
      "-x",
      `http://bob:pa%3Ass@127.0.0.1:${authed.address.port}`,
      `http://127.0.0.1:${origin.port}/a`,
    ]);
    expect(right.stdout).toContain("origin saw GET /a");
    const rightTunnel = await curl([
      "-p",
      "-x",
      `http://bob:pa%3Ass@127.0.0.1:${authed.address.port}`,
      `http://127.0.0.1:${origin.port}/b`,
    ]);
    expect(rightTunnel.stdout).toContain("origin saw GET /b");
  });

  it("answers 502 for a refused target and 400 for origin-form requests", async () => {
    const closed = await echoServer();
    await closeAll(closed.server);
    const r = await curl([
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-x",
      `http://127.0.0.1:${open.address.port}`,
      `http://127.0.0.1:${closed.port}/`,
    ]);
    expect(r.stdout).toBe("502");
    const c = await RawClient.connect(open.address.port);
    c.send("GET /not-absolute HTTP/1.1\r\nHost: x\r\n\r\n");
    expect((await c.rest()).toString()).toMatch(/^HTTP\/1.1 400/);
  });

  it("refuses garbage (400), oversized heads (431) and slow heads (408) without disturbing others", async () => {
    const garbage = await RawClient.connect(open.address.port);
    garbage.send("\x16\x03\x01\x00\xff garbage\r\n\r\n");
    expect((await garbage.rest()).toString()).toMatch(/^HTTP\/1.1 400/);
    const big = await RawClient.connect(open.address.port);
    big.send(`GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nX-Big: ${"a".repeat(8000)}\r\n\r\n`);
    expect((await big.rest()).toString()).toMatch(/^HTTP\/1.1 431/);
    const before = stats.refusedCount("http");
    const slow = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const s = await RawClient.connect(open.address.port);
        s.send("GET http://127.0.0.1/ HTTP/1.1\r\nX-Slow: ");
        return s;
      }),
    );
    const ok = await curl([
      "-x",
      `http://127.0.0.1:${open.address.port}`,
      `http://127.0.0.1:${origin.port}/ok`,
    ]);
    expect(ok.stdout).toContain("origin saw GET /ok");
    // Node checks header timeouts on a coarse timer: allow a few of its periods.
    await Promise.all(slow.map((s) => s.closed));
    expect(stats.refusedCount("http")).toBeGreaterThanOrEqual(before + 30);
    expect(stats.refusedCount("http", "header_too_large")).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
