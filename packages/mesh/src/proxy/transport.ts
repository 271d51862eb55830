/**
 * The few network operations the proxy front-ends need, so the same SOCKS5 server, HTTP proxy
 * and forwards run over the userspace TCP/IP stack (packages/tun netstack: `stack.connect`,
 * `stack.createServer`, `stack.createSocket`, `stack.lookup`) or over the host's own sockets
 * (`node:net`/`node:dgram`). The shapes are the subsets of `net.Socket`, `net.Server` and
 * `dgram.Socket` the front-ends call (reference netstack.md §6), so both sides fit unadapted.
 */
import type { Duplex } from "node:stream";

/** A connected TCP stream: a Duplex with the `net.Socket` events `connect`, `error`, `close`. */
export interface StreamSocket extends Duplex {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly localAddress?: string;
  readonly localPort?: number;
  setNoDelay?(noDelay?: boolean): unknown;
}

/** A TCP listener shaped like `net.Server`. */
export interface StreamServer {
  listen(port: number, host?: string): unknown;
  address(): { address: string; port: number } | string | null;
  close(cb?: (err?: Error) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  once(event: "listening", listener: () => void): unknown;
  once(event: "error", listener: (err: Error) => void): unknown;
  off(event: "error", listener: (err: Error) => void): unknown;
  off(event: "listening", listener: () => void): unknown;
}

/** Where a datagram came from (`dgram`'s rinfo, the fields we read). */
export interface DatagramSource {
  readonly address: string;
  readonly port: number;
}

/** A UDP socket shaped like `dgram.Socket`. */
export interface DatagramSocket {
  bind(port: number, address?: string): unknown;
  send(msg: Uint8Array, port: number, address: string, cb?: (err: Error | null) => void): void;
  on(event: "message", listener: (msg: Buffer, rinfo: DatagramSource) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  once(event: "listening", listener: () => void): unknown;
  once(event: "error", listener: (err: Error) => void): unknown;
  off(event: "error", listener: (err: Error) => void): unknown;
  off(event: "listening", listener: () => void): unknown;
  address(): { address: string; port: number };
  close(cb?: () => void): unknown;
}

export type DatagramFamily = "udp4" | "udp6";

/** One side of a proxy: the tunnel (netstack) or the host. */
export interface Transport {
  /** Short name for logs and metrics labels: "tunnel" or "host". */
  readonly name: string;
  /**
   * Opens a TCP connection; `host` may be a name, resolved on this side (inside the tunnel for
   * the netstack: wg-quick's `DNS =`). The socket emits `connect` or `error` (with a Node error
   * `code`: ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT, ENOTFOUND…).
   */
  connect(opts: { host: string; port: number }): StreamSocket;
  /** Resolves a name to one address on this side; an IP literal resolves to itself. */
  lookup(name: string): Promise<string>;
  /** A TCP server whose connections are handed to `handler` (half-open allowed). */
  createServer(handler: (socket: StreamSocket) => void): StreamServer;
  createSocket(family: DatagramFamily): DatagramSocket;
}

/**
 * Binds a stream server, resolving once listening or rejecting with its bind error. An empty
 * `host` listens on every address of that side (all our tunnel addresses, for the netstack).
 */
export function listenOn(server: StreamServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off("listening", onListening);
      reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    if (host === "") server.listen(port);
    else server.listen(port, host);
  });
}

/** Binds a datagram socket, resolving once bound or rejecting with its bind error. */
export function bindSocket(socket: DatagramSocket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.off("listening", onListening);
      reject(err);
    };
    const onListening = () => {
      socket.off("error", onError);
      resolve();
    };
    socket.once("error", onError);
    socket.once("listening", onListening);
    if (host === "") socket.bind(port);
    else socket.bind(port, host);
  });
}

/** The port a bound stream server listens on. */
export function serverPort(server: StreamServer): number {
  const a = server.address();
  return a !== null && typeof a === "object" ? a.port : 0;
}

/** Closes a stream server and waits for it (errors ignored: it may never have listened). */
export function closeServer(server: StreamServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
