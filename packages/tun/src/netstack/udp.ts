/**
 * UDP (RFC 768): sockets bound to a port, optionally connected, and the demultiplexer that
 * finds the socket for an arriving datagram.
 */
import { formatIp, type IpAddress, ipEquals } from "./address.js";
import { NetstackError } from "./errors.js";
import type { SocketError } from "./icmp.js";
import { pickEphemeralPort } from "./ports.js";

export const UDP_HEADER = 8;

/** What a socket needs from the stack that owns it. */
export interface UdpHost {
  /** Sends one datagram; throws NetstackError for what the user got wrong (no route, too big). */
  sendUdp(sock: UdpSocket, dst: IpAddress, dstPort: number, data: Uint8Array): void;
  unbind(sock: UdpSocket): void;
}

export interface UdpSocketHandlers {
  /** A datagram arrived; `data` is a view valid during the call only. */
  message?: (data: Uint8Array, from: IpAddress, port: number, to: IpAddress) => void;
  /** An ICMP error about a datagram we sent (Linux reports these on connected sockets only). */
  error?: (err: SocketError, to: IpAddress, port: number) => void;
}

export class UdpSocket {
  readonly family: 4 | 6;
  /** Bound address; null = any of ours of this family. */
  readonly localAddress: IpAddress | null;
  readonly localPort: number;
  remoteAddress: IpAddress | null = null;
  remotePort = 0;
  handlers: UdpSocketHandlers = {};
  #host: UdpHost;
  #closed = false;

  constructor(host: UdpHost, family: 4 | 6, localAddress: IpAddress | null, localPort: number) {
    this.#host = host;
    this.family = family;
    this.localAddress = localAddress;
    this.localPort = localPort;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Fixes the default destination and filters arrivals to it (like connect(2) on UDP). */
  connect(address: IpAddress, port: number): void {
    this.#checkOpen();
    checkPeer(this.family, address, port);
    this.remoteAddress = address.slice();
    this.remotePort = port;
  }

  disconnect(): void {
    this.remoteAddress = null;
    this.remotePort = 0;
  }

  /** Sends to `address`/`port`, or to the connected peer when they are omitted. */
  send(data: Uint8Array, address?: IpAddress, port?: number): void {
    this.#checkOpen();
    if (address === undefined || port === undefined) {
      if (this.remoteAddress === null)
        throw new NetstackError("EDESTADDRREQ", "UDP socket is not connected");
      this.#host.sendUdp(this, this.remoteAddress, this.remotePort, data);
      return;
    }
    checkPeer(this.family, address, port);
    this.#host.sendUdp(this, address, port, data);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.unbind(this);
  }

  #checkOpen(): void {
    if (this.#closed) throw new NetstackError("EBADF", "UDP socket is closed");
  }
}

function checkPeer(family: 4 | 6, address: IpAddress, port: number): void {
  if (address.length !== (family === 4 ? 4 : 16)) {
    throw new NetstackError("EAFNOSUPPORT", `${formatIp(address)} is not an IPv${family} address`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new NetstackError("EINVAL", `bad port ${port}`);
  }
}

/** The sockets by local port; demultiplexes arrivals to the most specific match. */
export class UdpTable {
  readonly #byPort = new Map<number, UdpSocket[]>();
  readonly #random: () => number;

  constructor(random: () => number) {
    this.#random = random;
  }

  get size(): number {
    let n = 0;
    for (const l of this.#byPort.values()) n += l.length;
    return n;
  }

  /** Binds a new socket; port 0 picks an ephemeral port. EADDRINUSE if the address/port clashes. */
  bind(host: UdpHost, family: 4 | 6, address: IpAddress | null, port: number): UdpSocket {
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new NetstackError("EINVAL", `bad port ${port}`);
    if (port === 0) {
      const p = pickEphemeralPort((x) => this.#byPort.has(x), this.#random);
      if (p === null) throw new NetstackError("EADDRNOTAVAIL", "no free UDP port");
      port = p;
    } else {
      for (const s of this.#byPort.get(port) ?? []) {
        if (s.family !== family) continue;
        if (s.localAddress === null || address === null || ipEquals(s.localAddress, address)) {
          throw new NetstackError("EADDRINUSE", `UDP port ${port} is in use`);
        }
      }
    }
    const sock = new UdpSocket(host, family, address?.slice() ?? null, port);
    const list = this.#byPort.get(port);
    if (list) list.push(sock);
    else this.#byPort.set(port, [sock]);
    return sock;
  }

  remove(sock: UdpSocket): void {
    const list = this.#byPort.get(sock.localPort);
    if (!list) return;
    const i = list.indexOf(sock);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byPort.delete(sock.localPort);
  }

  /** The socket for a datagram `src:srcPort → dst:dstPort`: connected + bound address first. */
  lookup(dst: IpAddress, dstPort: number, src: IpAddress, srcPort: number): UdpSocket | null {
    const list = this.#byPort.get(dstPort);
    if (!list) return null;
    let best: UdpSocket | null = null;
    let bestScore = -1;
    const family = dst.length === 4 ? 4 : 6;
    for (const s of list) {
      if (s.family !== family) continue;
      let score = 0;
      if (s.localAddress !== null) {
        if (!ipEquals(s.localAddress, dst)) continue;
        score += 1;
      }
      if (s.remoteAddress !== null) {
        if (s.remotePort !== srcPort || !ipEquals(s.remoteAddress, src)) continue;
        score += 2;
      }
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }
}
