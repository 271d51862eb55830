/**
 * The net-shaped TCP API of the netstack, end to end through a WireGuard tunnel between two
 * in-process Devices: what http, tls, undici and stream users rely on.
 */

import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TLSSocket, connect as tlsConnect } from "node:tls";
import type { NetstackSocket } from "@wirespan/tun/netstack/node";
import { Agent, fetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NetstackPair, netstackPair } from "./support/netstack-pair.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("end", () => resolve(Buffer.concat(parts)));
    s.on("error", reject);
  });
}

describe("netstack TCP sockets through a WireGuard tunnel", () => {
  let pair: NetstackPair;
  beforeAll(async () => {
    pair = await netstackPair();
    // b: an echo server and an HTTP server on port 80 (speaking HTTP/1.1 by hand on its sockets).
    pair.b
      .createServer((s) => {
        s.on("error", () => {}); // clients that destroy with unread data reset the connection
        s.pipe(s);
      })
      .listen(7);
    pair.b
      .createServer((s) => {
        s.on("error", () => {});
        let req = "";
        s.on("data", (d: Buffer) => {
          req += d.toString();
          if (!req.includes("\r\n\r\n")) return;
          const path = req.split(" ")[1];
          const body = `hello from ${path}`;
          s.end(
            `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
          );
        });
      })
      .listen(80);
  });
  afterAll(async () => {
    await pair.close();
  });

  it("connects, reports addresses like net.Socket, and echoes 4 MiB byte-exact in both directions", async () => {
    const data = randomBytes(4 << 20);
    const sock = pair.a.connect({ host: "198.19.7.2", port: 7 });
    await new Promise<void>((r) => sock.once("connect", r));
    expect(sock.remoteAddress).toBe("198.19.7.2");
    expect(sock.remotePort).toBe(7);
    expect(sock.localAddress).toBe("198.19.7.1");
    expect(sock.remoteFamily).toBe("IPv4");
    const received = collect(sock);
    await pipeline(Readable.from([data]), sock, { end: false }).catch(() => {});
    sock.end();
    expect(sha(await received)).toBe(sha(data));
    expect(sock.bytesWritten).toBe(data.length);
  });

  it("works over IPv6 too", async () => {
    const sock = pair.a.connect({ host: "fd00:19:7::2", port: 7 });
    const got = collect(sock);
    sock.end("six");
    expect((await got).toString()).toBe("six");
    expect(sock.remoteFamily).toBe("IPv6");
  });

  it("fails a connection to a closed port with ECONNREFUSED", async () => {
    const sock = pair.a.connect({ host: "198.19.7.2", port: 9 });
    const err = await new Promise<NodeJS.ErrnoException>((r) => sock.once("error", r));
    expect(err.code).toBe("ECONNREFUSED");
    expect(err.syscall).toBe("connect");
  });

  it("supports half-close: the client ends its side and still receives the server's reply", async () => {
    const server = pair.b.createServer({ allowHalfOpen: true }, (s) => {
      const parts: Buffer[] = [];
      s.on("data", (d: Buffer) => parts.push(d));
      s.on("end", () => {
        // The peer's FIN arrived; our side is still open: answer after it, then close.
        s.end(`got ${Buffer.concat(parts).length} bytes`);
      });
    });
    server.listen(8000);
    const sock = pair.a.connect({ host: "198.19.7.2", port: 8000, allowHalfOpen: true });
    const reply = collect(sock);
    sock.end(Buffer.alloc(100_000, 1));
    expect((await reply).toString()).toBe("got 100000 bytes");
    server.close();
  });

  it("reports ECONNRESET when the peer resets mid-transfer", async () => {
    const server = pair.b.createServer((s: NetstackSocket) => {
      s.write(Buffer.alloc(10_000));
      setTimeout(() => s.resetAndDestroy(), 50);
    });
    server.listen(8001);
    const sock = pair.a.connect({ host: "198.19.7.2", port: 8001 });
    sock.on("data", () => {});
    const err = await new Promise<NodeJS.ErrnoException>((r) => sock.once("error", r));
    expect(err.code).toBe("ECONNRESET");
    server.close();
  });

  it("is http.request's createConnection", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: "198.19.7.2",
          port: 80,
          path: "/via-http",
          createConnection: () => pair.a.connect({ host: "198.19.7.2", port: 80 }),
        },
        (res) => collect(res).then((b) => resolve(b.toString()), reject),
      );
      req.on("error", reject);
      req.end();
    });
    expect(body).toBe("hello from /via-http");
  });

  it("is undici's Agent connect, so fetch() goes through the tunnel", async () => {
    const agent = new Agent({
      connect: (opts, cb) => {
        const s = pair.a.connect({ host: opts.hostname, port: Number(opts.port) || 80 });
        s.once("connect", () => cb(null, s as never));
        s.once("error", (e) => cb(e, null));
      },
    });
    const res = await fetch("http://198.19.7.2/via-fetch", { dispatcher: agent });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello from /via-fetch");
    await agent.close();
  });

  it("is tls.connect's socket (TLS 1.3 to a server on the other stack)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "netstack-tls-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=svc.wirespan.test",
          "-keyout",
          join(dir, "k.pem"),
          "-out",
          join(dir, "c.pem"),
        ],
        { stdio: "ignore" },
      );
      const cert = readFileSync(join(dir, "c.pem"));
      const key = readFileSync(join(dir, "k.pem"));
      const server = pair.b.createServer((raw) => {
        const tls = new TLSSocket(raw, { isServer: true, cert, key });
        tls.on("data", (d: Buffer) => tls.end(`secure ${d.toString()}`));
        tls.on("error", () => {});
      });
      server.listen(443);
      const socket = pair.a.connect({ host: "198.19.7.2", port: 443 });
      const tls = tlsConnect({ socket, servername: "svc.wirespan.test", ca: cert });
      await new Promise<void>((r, j) => {
        tls.once("secureConnect", r);
        tls.once("error", j);
      });
      expect(tls.authorized).toBe(true);
      const reply = collect(tls);
      tls.write("ping");
      expect((await reply).toString()).toBe("secure ping");
      server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
