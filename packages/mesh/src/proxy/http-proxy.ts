/**
 * An HTTP proxy: CONNECT tunnels (RFC 9110 §9.3.6) and absolute-form requests forwarded in
 * origin-form (RFC 9112 §3.2.2), with optional Basic auth (RFC 7617: 407 + Proxy-Authenticate).
 * Targets are reached through the transport; names resolve there (inside the tunnel).
 *
 * Node's HTTP parser reads the requests, with the limits that bound a hostile client: the head
 * must fit `maxHeaderBytes` (else 431) and arrive within `handshakeTimeoutMs` (else 408); garbage
 * gets 400. Each is counted per reason; other clients are not affected.
 */
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { CredentialCheck, type Credentials } from "./credentials.js";
import { dial } from "./dial.js";
import {
  type BindAddress,
  closeWith,
  type FrontEndOptions,
  limitsOf,
  loggerOf,
  type RunningFrontEnd,
} from "./front-end.js";
import { join } from "./pipe.js";
import { listenOn, serverPort } from "./transport.js";

export interface HttpProxyOptions extends FrontEndOptions {
  readonly credentials?: Credentials;
}

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy's own. */
const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authorization",
  "proxy-authenticate",
]);

const STATUS_BY_ERROR: Record<string, number> = {
  ECONNREFUSED: 502,
  ENOTFOUND: 502,
  EAI_AGAIN: 502,
  EHOSTUNREACH: 502,
  ENETUNREACH: 502,
  ETIMEDOUT: 504,
};

/** `host:port` of a CONNECT request (authority-form); IPv6 in brackets. */
export function parseAuthority(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:/@[\]]+)):([0-9]{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2], port };
}

/** Headers for the origin: hop-by-hop ones (and those `Connection` names) removed. */
export function forwardHeaders(req: IncomingMessage, host: string): OutgoingHttpHeaders {
  const named = new Set(
    String(req.headers.connection ?? "")
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower) || lower === "host") continue;
    const prev = out[name];
    const value = req.rawHeaders[i + 1];
    out[name] =
      prev === undefined ? value : [...(Array.isArray(prev) ? prev : [String(prev)]), value];
  }
  out.Host = host;
  return out;
}

export class HttpProxy implements RunningFrontEnd {
  readonly kind = "http" as const;
  address: BindAddress;
  private readonly server: Server;
  private readonly auth: CredentialCheck | null;
  private readonly sockets = new Set<Duplex>();

  private constructor(private readonly opts: HttpProxyOptions) {
    const limits = limitsOf(opts);
    this.address = opts.listen;
    this.auth = opts.credentials ? new CredentialCheck(opts.credentials) : null;
    this.server = createServer({
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.handshakeTimeoutMs,
      // How often Node checks that timeout (default 30 s: a slowloris would get that long).
      connectionsCheckingInterval: Math.min(1_000, limits.handshakeTimeoutMs),
      // A forwarded upload may be long; only the head is held to the handshake timeout.
      requestTimeout: 0,
      keepAliveTimeout: 5_000,
    });
    this.server.maxConnections = limits.maxConnections;
    this.server.on("connection", (socket: Socket) => {
      const release = opts.stats.open("http");
      this.sockets.add(socket);
      socket.once("close", () => {
        this.sockets.delete(socket);
        release();
      });
    });
    this.server.on("drop", () => opts.stats.refuse("http", "too_many_connections"));
    this.server.on("request", (req, res) => this.forward(req, res));
    this.server.on("connect", (req, socket, head) => this.tunnel(req, socket, head));
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) =>
      this.clientError(err, socket),
    );
  }

  static async start(opts: HttpProxyOptions): Promise<HttpProxy> {
    const p = new HttpProxy(opts);
    await listenOn(p.server, opts.listen.host, opts.listen.port);
    p.address = { host: opts.listen.host, port: serverPort(p.server) };
    return p;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    let status = 400;
    let reason = "malformed_request";
    if (err.code === "HPE_HEADER_OVERFLOW") {
      status = 431;
      reason = "header_too_large";
    } else if (err.code === "ERR_HTTP_REQUEST_TIMEOUT" || err.code === "ERR_HTTP_HEADERS_TIMEOUT") {
      status = 408;
      reason = "headers_timeout";
    }
    this.opts.stats.refuse("http", reason);
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    closeWith(
      socket,
      Buffer.from(
        `HTTP/1.1 ${status} ${reason.replace(/_/g, " ")}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      ),
    );
  }

  /** Whether the request carries acceptable credentials (always, when none are configured). */
  private authorized(req: IncomingMessage): boolean {
    if (!this.auth) return true;
    return this.auth.matchesBasic(req.headers["proxy-authorization"]);
  }

  private static readonly Challenge = 'Basic realm="wirespan", charset="UTF-8"';

  private tunnel(req: IncomingMessage, client: Duplex, head: Buffer): void {
    client.on("error", () => {});
    const fail = (status: number, reason: string, extra = "") => {
      this.opts.stats.refuse("http", reason);
      closeWith(
        client,
        Buffer.from(
          `HTTP/1.1 ${status} ${reason.replace(/_/g, " ")}\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`,
        ),
      );
    };
    if (!this.authorized(req)) {
      fail(407, "auth_required", `Proxy-Authenticate: ${HttpProxy.Challenge}\r\n`);
      return;
    }
    const target = parseAuthority(req.url ?? "");
    if (!target) {
      fail(400, "bad_authority");
      return;
    }
    dial(this.opts.transport, target, client, limitsOf(this.opts).connectTimeoutMs, {
      failed: (err) => {
        const status = STATUS_BY_ERROR[err.code ?? ""] ?? 502;
        fail(status, status === 504 ? "connect_timeout" : "connect_failed");
      },
      connected: (upstream) => {
        upstream.setNoDelay?.(true);
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        if (head.length > 0) upstream.write(head);
        void join(client, upstream, this.opts.stats);
      },
    });
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, reason: string, headers: OutgoingHttpHeaders = {}) => {
      this.opts.stats.refuse("http", reason);
      res.writeHead(status, { ...headers, "content-type": "text/plain", connection: "close" });
      res.end(`${reason.replace(/_/g, " ")}\n`);
    };
    if (!this.authorized(req)) {
      reply(407, "auth_required", { "proxy-authenticate": HttpProxy.Challenge });
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      reply(400, "not_absolute_uri");
      return;
    }
    if (url.protocol !== "http:" || !url.hostname) {
      reply(400, "not_absolute_uri");
      return;
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = url.port ? Number(url.port) : 80;
    const limits = limitsOf(this.opts);
    const transport = this.opts.transport;
    const out = request({
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: forwardHeaders(req, url.host),
      createConnection: () => transport.connect({ host, port }) as unknown as Socket,
      timeout: limits.connectTimeoutMs,
    });
    out.on("timeout", () =>
      out.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })),
    );
    out.on("response", (up) => {
      out.setTimeout(0);
      const headers: OutgoingHttpHeaders = {};
      for (let i = 0; i < up.rawHeaders.length; i += 2) {
        const name = up.rawHeaders[i];
        if (HOP_BY_HOP.has(name.toLowerCase())) continue;
        const prev = headers[name];
        const v = up.rawHeaders[i + 1];
        headers[name] =
          prev === undefined ? v : [...(Array.isArray(prev) ? prev : [String(prev)]), v];
      }
      res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
      up.on("data", (d: Buffer) => {
        this.opts.stats.bytesDown += d.length;
      });
      up.pipe(res);
      up.on("error", () => res.destroy());
    });
    out.on("error", (err: NodeJS.ErrnoException) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = STATUS_BY_ERROR[err.code ?? ""] ?? 502;
      reply(status, status === 504 ? "connect_timeout" : "connect_failed");
    });
    res.on("close", () => {
      if (!out.writableFinished || !res.writableFinished) out.destroy();
    });
    req.on("data", (d: Buffer) => {
      this.opts.stats.bytesUp += d.length;
    });
    req.pipe(out);
    loggerOf(this.opts).verbose(`http: ${req.method} ${url.host}${url.pathname}`);
  }
}
