/**
 * Loopback fixtures for the proxy front-end tests: an echo TCP server, a UDP echo, a small HTTP
 * origin, and a raw TCP client that reads exactly what a server answers.
 */
import { execFile } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { hostTransport } from "../../src/proxy/host-transport.js";
import type { Transport } from "../../src/proxy/transport.js";

export async function echoServer(host = "127.0.0.1"): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const a = server.address();
  return { server, port: typeof a === "object" && a ? a.port : 0 };
}

export async function udpEcho(
  type: "udp4" | "udp6" = "udp4",
): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket(type);
  socket.on("message", (msg, rinfo) =>
    socket.send(Buffer.concat([Buffer.from("echo:"), msg]), rinfo.port, rinfo.address),
  );
  await new Promise<void>((r) => socket.bind(0, type === "udp4" ? "127.0.0.1" : "::1", r));
  return { socket, port: socket.address().port };
}

export async function httpOrigin(): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      res.setHeader("content-type", "text/plain");
      res.end(
        `origin saw ${req.method} ${req.url} host=${req.headers.host} proxy-auth=${req.headers["proxy-authorization"] ?? "none"} body=${body}`,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return { server, port: typeof a === "object" && a ? a.port : 0 };
}

/** A raw client: `send` writes, `read(n)` resolves with exactly n bytes, `closed` on close. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;
  ended = false;

  private constructor(readonly socket: Socket) {
    socket.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on("error", () => {});
    // The server's FIN counts as closed: a half-open client would otherwise wait forever.
    this.closed = new Promise((r) => {
      const done = () => {
        this.ended = true;
        for (const w of this.waiters.splice(0)) w();
        r();
      };
      socket.once("end", done);
      socket.once("close", done);
    });
  }

  static connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, allowHalfOpen: true });
      s.once("connect", () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  send(b: Uint8Array | string): void {
    this.socket.write(b);
  }

  /** Exactly `n` bytes, or what arrived before the server closed (shorter). */
  async read(n: number, timeout = 5_000): Promise<Buffer> {
    const deadline = Date.now() + timeout;
    while (this.buf.length < n && !this.ended) {
      if (Date.now() > deadline)
        throw new Error(`read(${n}) timed out with ${this.buf.length} bytes`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** Everything until the server closes. */
  async rest(timeout = 5_000): Promise<Buffer> {
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, timeout))]);
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Runs curl with arguments; resolves with exit code and output (never rejects). */
export function curl(
  args: readonly string[],
  timeout = 15_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "curl",
      ["-sS", "--max-time", String(timeout / 1000), ...args],
      { timeout: timeout + 2_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export function closeAll(...servers: Array<{ close(cb?: () => void): unknown }>): Promise<unknown> {
  return Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
}

/** Runs `body` with a forward started on 127.0.0.1 (any port) over host sockets, then closes it. */
export async function withForward<
  F extends { close(): Promise<void> },
  O extends { transport: Transport; listen: { host: string; port: number } },
>(
  start: (opts: O) => Promise<F>,
  opts: Omit<O, "transport" | "listen"> & { transport?: Transport },
  body: (fwd: F) => Promise<void>,
): Promise<void> {
  const fwd = await start({
    transport: hostTransport,
    ...opts,
    listen: { host: "127.0.0.1", port: 0 },
  } as O);
  try {
    await body(fwd);
  } finally {
    await fwd.close();
  }
}

/** A client connection that resolves once connected (rejects on a connect error). */
export function connectTo(port: number, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, allowHalfOpen: true });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** How a socket ended: "reset" (ECONNRESET), "end" (a clean FIN) or another error code. */
export function howItEnds(s: Socket): Promise<string> {
  if (s.listenerCount("data") === 0) s.resume();
  return new Promise((resolve) => {
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    s.once("end", () => resolve("end"));
    s.once("close", () => resolve("closed"));
  }).then((how) => (how === "ECONNRESET" ? "reset" : (how as string)));
}
