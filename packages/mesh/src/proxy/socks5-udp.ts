/**
 * One SOCKS5 UDP association (RFC 1928 §7): a relay socket on the host that takes datagrams
 * wrapped in the SOCKS UDP header from the client, sends their payload into the tunnel, and
 * wraps the answers with their source address on the way back.
 *
 * - Only the client's IP (the TCP control connection's peer) may use the relay; when the request
 *   named a port, only that port. Anything else is dropped and counted.
 * - FRAG ≠ 0 is dropped (no fragment reassembly; §7 allows that).
 * - One tunnel socket per address family, opened on first use; names are resolved by the
 *   transport, with a small cache per association.
 */
import { isIPv6 } from "node:net";
import type { ProxyLimits } from "./front-end.js";
import { hostTransport } from "./host-transport.js";
import { encodeUdpDatagram, parseUdpDatagram } from "./socks5-codec.js";
import type { ProxyStats } from "./stats.js";
import {
  bindSocket,
  type DatagramFamily,
  type DatagramSocket,
  type Transport,
} from "./transport.js";

const MAX_CACHED_NAMES = 64;

export interface UdpAssociationOptions {
  readonly transport: Transport;
  /** The host address the relay binds to (the control connection's local address). */
  readonly relayHost: string;
  readonly clientHost: string;
  /** The client's announced source port; 0 when unknown. */
  readonly clientPort: number;
  readonly stats: ProxyStats;
  readonly limits: ProxyLimits;
}

/** IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as the plain IPv4 it is. */
export function unmapped(host: string): string {
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}

export class UdpAssociation {
  private readonly tunnel = new Map<DatagramFamily, DatagramSocket>();
  private readonly names = new Map<string, Promise<string>>();
  private clientPort: number;
  private closed = false;

  private constructor(
    private readonly opts: UdpAssociationOptions,
    private readonly relay: DatagramSocket,
  ) {
    this.clientPort = opts.clientPort;
    relay.on("message", (msg, rinfo) => void this.fromClient(msg, rinfo.address, rinfo.port));
    relay.on("error", () => {});
  }

  static async open(opts: UdpAssociationOptions): Promise<UdpAssociation> {
    const host = unmapped(opts.relayHost);
    const relay = hostTransport.createSocket(isIPv6(host) ? "udp6" : "udp4");
    try {
      await bindSocket(relay, host, 0);
    } catch (err) {
      relay.close();
      throw err;
    }
    return new UdpAssociation(opts, relay);
  }

  get address(): { host: string; port: number } {
    const a = this.relay.address();
    return { host: a.address, port: a.port };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.relay.close();
    for (const s of this.tunnel.values()) s.close();
    this.tunnel.clear();
  }

  private drop(reason: string): void {
    this.opts.stats.refuse("socks5", reason);
  }

  private readonly countSendError = (err: Error | null): void => {
    if (err) this.drop("udp_send_failed");
  };

  private async fromClient(msg: Buffer, address: string, port: number): Promise<void> {
    if (unmapped(address) !== unmapped(this.opts.clientHost))
      return this.drop("udp_foreign_source");
    if (this.clientPort !== 0 && port !== this.clientPort) return this.drop("udp_foreign_source");
    this.clientPort = port;
    const d = parseUdpDatagram(msg);
    if ("error" in d) return this.drop(d.error);
    if (d.frag !== 0) return this.drop("udp_fragment");
    let ip: string;
    try {
      ip = await this.resolve(d.dst.host);
    } catch {
      return this.drop("udp_resolve_failed");
    }
    if (this.closed) return;
    const family: DatagramFamily = isIPv6(ip) ? "udp6" : "udp4";
    let sock: DatagramSocket;
    try {
      sock = await this.tunnelSocket(family);
    } catch {
      return this.drop("udp_bind_failed");
    }
    this.opts.stats.bytesUp += d.data.length;
    // EMSGSIZE (larger than the tunnel's MTU allows, IPv6 is never fragmented by us) and the like.
    sock.send(d.data, d.dst.port, ip, this.countSendError);
  }

  private resolve(host: string): Promise<string> {
    let p = this.names.get(host);
    if (!p) {
      if (this.names.size >= MAX_CACHED_NAMES) this.names.clear();
      p = this.opts.transport.lookup(host);
      this.names.set(host, p);
      p.catch(() => this.names.delete(host));
    }
    return p;
  }

  private async tunnelSocket(family: DatagramFamily): Promise<DatagramSocket> {
    const open = this.tunnel.get(family);
    if (open) return open;
    const s = this.opts.transport.createSocket(family);
    this.tunnel.set(family, s);
    s.on("error", () => {});
    s.on("message", (msg, rinfo) => {
      if (this.closed || this.clientPort === 0) return;
      this.opts.stats.bytesDown += msg.length;
      const wrapped = encodeUdpDatagram(unmapped(rinfo.address), rinfo.port, msg);
      this.relay.send(wrapped, this.clientPort, this.opts.clientHost, this.countSendError);
    });
    try {
      await bindSocket(s, "", 0);
    } catch (err) {
      this.tunnel.delete(family);
      s.close();
      throw err;
    }
    if (this.closed) s.close();
    return s;
  }
}
