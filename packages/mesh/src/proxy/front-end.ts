/**
 * What every front-end shares: its options, its limits (bounded memory and time per client, so a
 * slowloris or a flood of half-open clients costs a bounded amount and cannot starve the others),
 * and a stream listener that tracks its connections so `close()` ends them all.
 */
import { type Logger, silentLogger } from "../logger.js";
import { hostTransport } from "./host-transport.js";
import type { FrontEnd, ProxyStats } from "./stats.js";
import {
  closeServer,
  listenOn,
  type StreamServer,
  type StreamSocket,
  serverPort,
  type Transport,
} from "./transport.js";

export interface ProxyLimits {
  /** A client must finish its SOCKS5 handshake or send its HTTP headers within this. */
  readonly handshakeTimeoutMs: number;
  /** Opening a connection to a target gives up after this (reply: host unreachable). */
  readonly connectTimeoutMs: number;
  /** Connections a listener serves at once; more are closed on accept and counted. */
  readonly maxConnections: number;
  /** Largest HTTP request head accepted (431 above it). */
  readonly maxHeaderBytes: number;
  /** UDP sessions per forward or association; the least recently used one is dropped. */
  readonly maxUdpSessions: number;
  /** A UDP session with no traffic for this long is closed (0 = never). */
  readonly udpIdleMs: number;
}

export const DefaultProxyLimits: ProxyLimits = {
  handshakeTimeoutMs: 10_000,
  connectTimeoutMs: 30_000,
  maxConnections: 4096,
  maxHeaderBytes: 16 * 1024,
  maxUdpSessions: 1024,
  udpIdleMs: 60_000,
};

/** Where a listener binds. */
export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

export interface FrontEndOptions {
  /** Where targets are reached: the tunnel (netstack), or the host for server tunnels. */
  readonly transport: Transport;
  /** Where the listener lives (default: the host). */
  readonly listenOn?: Transport;
  readonly listen: BindAddress;
  readonly stats: ProxyStats;
  readonly limits?: Partial<ProxyLimits>;
  readonly logger?: Logger;
}

/** A started front-end. */
export interface RunningFrontEnd {
  readonly kind: FrontEnd;
  /** The address it listens on (the real port when 0 was asked for). */
  readonly address: BindAddress;
  close(): Promise<void>;
}

export function limitsOf(opts: FrontEndOptions): ProxyLimits {
  return { ...DefaultProxyLimits, ...opts.limits };
}

export function loggerOf(opts: FrontEndOptions): Logger {
  return opts.logger ?? silentLogger;
}

/** Ends a connection after a final message; destroys it if the peer does not close in time. */
export function closeWith(socket: StreamSocket, last?: Uint8Array): void {
  if (socket.destroyed) return;
  socket.end(last);
  setTimeout(() => socket.destroy(), 2_000).unref();
}

/** A stream listener that counts, caps and tracks its connections. */
export class TrackedListener {
  private readonly sockets = new Set<StreamSocket>();
  private server: StreamServer | null = null;
  address: BindAddress;

  constructor(
    private readonly kind: FrontEnd,
    private readonly opts: FrontEndOptions,
    private readonly handler: (socket: StreamSocket) => void,
  ) {
    this.address = opts.listen;
  }

  async start(): Promise<void> {
    const limits = limitsOf(this.opts);
    const on = this.opts.listenOn ?? hostTransport;
    const server = on.createServer((socket) => {
      // Errors end in `close`; a reset client must not become an unhandled 'error'.
      socket.on("error", () => {});
      if (this.sockets.size >= limits.maxConnections) {
        this.opts.stats.refuse(this.kind, "too_many_connections");
        socket.destroy();
        return;
      }
      const release = this.opts.stats.open(this.kind);
      this.sockets.add(socket);
      socket.once("close", () => {
        this.sockets.delete(socket);
        release();
      });
      try {
        this.handler(socket);
      } catch (err) {
        this.opts.stats.refuse(this.kind, "internal_error");
        loggerOf(this.opts).error(`${this.kind}: ${err}`);
        socket.destroy();
      }
    });
    server.on("error", (err) => loggerOf(this.opts).error(`${this.kind} listener: ${err.message}`));
    await listenOn(server, this.opts.listen.host, this.opts.listen.port);
    this.server = server;
    this.address = { host: this.opts.listen.host, port: serverPort(server) };
  }

  get connections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await closeServer(server);
  }
}
