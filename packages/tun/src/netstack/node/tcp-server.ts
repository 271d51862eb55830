/**
 * `createServer(handler).listen(port)` like net.Server (reference netstack.md §6.2):
 * 'listening', 'connection'(socket), 'error', 'close' (after every connection has ended).
 */
import { EventEmitter } from "node:events";
import { formatIp, type IpAddress, parseIp } from "../address.js";
import { pickEphemeralPort } from "../ports.js";
import type { TcpListener } from "../tcp/index.js";
import type { StackDriver } from "./driver.js";
import { errnoException } from "./errors.js";
import { NetstackSocket } from "./tcp-socket.js";

export interface NetstackServerOptions {
  allowHalfOpen?: boolean;
  /** Default true, like the sockets from connect(). */
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Accepted sockets start paused (as net.Server's pauseOnConnect). */
  pauseOnConnect?: boolean;
}

export class NetstackServer extends EventEmitter {
  #driver: StackDriver;
  #opts: NetstackServerOptions;
  #listener: TcpListener | null = null;
  #connections = new Set<NetstackSocket>();
  #closing = false;
  #closeCallbacks: Array<(err?: Error) => void> = [];

  constructor(
    driver: StackDriver,
    opts: NetstackServerOptions = {},
    handler?: (socket: NetstackSocket) => void,
  ) {
    super();
    this.#driver = driver;
    this.#opts = opts;
    if (handler) this.on("connection", handler);
  }

  get listening(): boolean {
    return this.#listener !== null;
  }

  /** listen(port[, host][, backlog][, cb]) or listen({ port, host, backlog }[, cb]); port 0 picks one. */
  listen(...args: unknown[]): this {
    let cb: (() => void) | undefined;
    if (typeof args[args.length - 1] === "function") cb = args.pop() as () => void;
    let port = 0;
    let host: string | undefined;
    let backlog: number | undefined;
    if (typeof args[0] === "object" && args[0] !== null) {
      const o = args[0] as { port?: number; host?: string; backlog?: number };
      ({ port = 0, host, backlog } = o);
    } else {
      port = Number(args[0] ?? 0);
      if (typeof args[1] === "string") host = args[1];
      const b = typeof args[1] === "number" ? args[1] : args[2];
      if (typeof b === "number") backlog = b;
    }
    if (cb) this.once("listening", cb);
    try {
      this.#listen(port, host, backlog);
    } catch (err) {
      const code = (err as { code?: string }).code ?? "EINVAL";
      process.nextTick(() =>
        this.emit("error", errnoException(code, String(err), "listen", host ?? "::", port)),
      );
      return this;
    }
    process.nextTick(() => this.emit("listening"));
    return this;
  }

  #listen(port: number, host: string | undefined, backlog: number | undefined): void {
    const tcp = this.#driver.stack.tcp;
    if (tcp === null) throw errnoException("EPROTONOSUPPORT", "this netstack has no TCP");
    if (this.#listener !== null)
      throw errnoException(
        "ERR_SERVER_ALREADY_LISTEN",
        "Listen method has been called more than once",
      );
    let addr: IpAddress | null = null;
    if (host !== undefined && host !== "0.0.0.0" && host !== "::") {
      addr = parseIp(host);
      if (addr === null) throw errnoException("EINVAL", `bad host ${host}`);
    }
    const accept = (conn: Parameters<Parameters<typeof tcp.listen>[3]>[0]) => {
      if (this.#closing) {
        conn.abort();
        return;
      }
      const sock = new NetstackSocket(this.#driver, { allowHalfOpen: this.#opts.allowHalfOpen });
      sock.setNoDelay(this.#opts.noDelay ?? true);
      if (this.#opts.keepAlive) sock.setKeepAlive(true, this.#opts.keepAliveInitialDelay ?? 0);
      sock.attach(conn, true);
      if (this.#opts.pauseOnConnect) sock.pause();
      this.#connections.add(sock);
      sock.once("close", () => {
        this.#connections.delete(sock);
        this.#maybeClosed();
      });
      this.emit("connection", sock);
    };
    if (port === 0) {
      // The TCP layer wants a concrete port: take a random free one from the ephemeral range.
      for (let tries = 0; tries < 64; tries++) {
        const p = pickEphemeralPort(() => false, this.#driver.stack.random);
        if (p === null) break;
        try {
          this.#listener = tcp.listen(addr, p, { backlog }, accept);
          return;
        } catch (err) {
          if ((err as { code?: string }).code !== "EADDRINUSE") throw err;
        }
      }
      throw errnoException("EADDRINUSE", "no free port");
    }
    this.#listener = tcp.listen(addr, port, { backlog }, accept);
  }

  address(): { address: string; family: "IPv4" | "IPv6"; port: number } | null {
    const l = this.#listener;
    if (l === null) return null;
    const a = l.address;
    return {
      address: a ? formatIp(a) : "::",
      family: a && a.length === 4 ? "IPv4" : "IPv6",
      port: l.port,
    };
  }

  /** Stops accepting; 'close' fires once every connection has ended. */
  close(cb?: (err?: Error) => void): this {
    if (this.#listener === null) {
      if (cb)
        process.nextTick(() =>
          cb(errnoException("ERR_SERVER_NOT_RUNNING", "Server is not running.")),
        );
      return this;
    }
    this.#listener.close();
    this.#listener = null;
    this.#closing = true;
    if (cb) this.#closeCallbacks.push(cb);
    this.#maybeClosed();
    return this;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(() => cb(null, this.#connections.size));
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  #maybeClosed(): void {
    if (!this.#closing || this.#connections.size > 0) return;
    this.#closing = false;
    const cbs = this.#closeCallbacks;
    this.#closeCallbacks = [];
    process.nextTick(() => {
      for (const cb of cbs) cb();
      this.emit("close");
    });
  }
}
