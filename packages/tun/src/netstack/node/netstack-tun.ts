/**
 * The Node face of the netstack: a TunDevice (so `Device.create({ tun })` runs WireGuard over
 * it unchanged, with no TUN, no root, on any OS) that also gives the application its sockets —
 * like wireguard-go's `netstack.CreateNetTUN` returning a tun.Device and a *Net in one.
 *
 * Packet flow: the Device writes decrypted inbound packets with `write()` → NetStack.input; what
 * the stack sends comes out of `onPackets` in batches (one per microtask burst), which the
 * Device encrypts. One timer (the driver's) serves every stack deadline.
 */
import { CloseSignal } from "../../close-signal.js";
import type { TunDevice, TunStats } from "../../tun-device.js";
import { type IpAddress, parseIp } from "../address.js";
import { NetstackError } from "../errors.js";
import { DEFAULT_NETSTACK_MTU, NetStack, type NetStackOptions } from "../stack.js";
import { NetstackDgramSocket } from "./dgram-socket.js";
import { type LookupAddress, type LookupOptions, lookup } from "./dns.js";
import { StackDriver } from "./driver.js";
import { type PingOptions, type PingResult, ping } from "./ping.js";
import { connectSocket, type NetstackConnectOptions } from "./tcp-connect.js";
import { NetstackServer, type NetstackServerOptions } from "./tcp-server.js";
import type { NetstackSocket } from "./tcp-socket.js";

export interface NetstackTunOptions {
  /** Our tunnel addresses (wg-quick `Address =`; a `/prefix` is accepted and ignored). */
  addresses: string[];
  /** DNS servers inside the tunnel (wg-quick `DNS =`), used by lookup() and connect({ host }). */
  dns?: string[];
  /** Default 1420 (wg-quick). */
  mtu?: number;
  /** Interface name reported to the Device (default "netstack0"). */
  name?: string;
  /** TCP tuning (buffer sizes, congestion control, segmentation offload); see NetStackOptions. */
  tcp?: NetStackOptions["tcp"];
}

export class NetstackTun implements TunDevice {
  readonly name: string;
  readonly mtu: number;
  readonly stack: NetStack;
  readonly dnsServers: readonly IpAddress[];
  /** @internal the driver sockets share */
  readonly driver: StackDriver;
  readonly #close = new CloseSignal();
  #stats: TunStats = { readBatches: 0, packetsRead: 0, packetsWritten: 0, writeDrops: 0 };

  constructor(opts: NetstackTunOptions) {
    this.name = opts.name ?? "netstack0";
    this.mtu = opts.mtu ?? DEFAULT_NETSTACK_MTU;
    this.stack = new NetStack({
      addresses: opts.addresses.map((a) => a.split("/")[0].trim()),
      mtu: this.mtu,
      tcp: opts.tcp,
    });
    this.dnsServers = (opts.dns ?? []).map((s) => {
      const a = parseIp(s.trim());
      if (a === null) throw new NetstackError("EINVAL", `bad DNS server address ${s}`);
      return a;
    });
    this.driver = new StackDriver(this.stack);
  }

  // --- TunDevice: the Device's side -------------------------------------------------------

  onPackets(handler: (packets: Uint8Array[]) => void): void {
    this.driver.setSink((packets) => {
      if (this.#close.closed) return;
      this.#stats.readBatches++;
      this.#stats.packetsRead += packets.length;
      handler(packets);
    });
  }

  /** Decrypted packets from the tunnel, into the stack (the Device's TUN write). */
  write(packets: Uint8Array[]): void {
    if (this.#close.closed) {
      this.#stats.writeDrops += packets.length;
      return;
    }
    this.#stats.packetsWritten += packets.length;
    this.driver.input(packets);
  }

  onClose(handler: (reason: Error | null) => void): void {
    this.#close.listen(handler);
  }

  async close(): Promise<void> {
    this.#close.fire(null, () => this.driver.stop());
  }

  stats(): TunStats {
    return { ...this.#stats };
  }

  // --- The application's side -------------------------------------------------------------

  /**
   * Opens a TCP connection through the tunnel, like net.connect: the socket is returned at once;
   * a host name is resolved with lookup(). `connect(port, host)` is accepted too.
   */
  connect(
    options: NetstackConnectOptions | number,
    host?: string | (() => void),
    listener?: () => void,
  ): NetstackSocket {
    if (typeof options === "number")
      options = { port: options, host: typeof host === "string" ? host : undefined };
    if (typeof host === "function") listener = host;
    return connectSocket(
      this.driver,
      (name, family) => this.lookup(name, { family }),
      options,
      listener,
    );
  }

  /** A net.Server-shaped TCP server inside the tunnel: `createServer(handler).listen(port)`. */
  createServer(
    options?: NetstackServerOptions | ((socket: NetstackSocket) => void),
    handler?: (socket: NetstackSocket) => void,
  ): NetstackServer {
    if (typeof options === "function") return new NetstackServer(this.driver, {}, options);
    return new NetstackServer(this.driver, options ?? {}, handler);
  }

  /** A `node:dgram`-shaped UDP socket inside the tunnel. */
  createSocket(
    type: "udp4" | "udp6" | { type: "udp4" | "udp6" },
    onMessage?: (msg: Buffer, rinfo: unknown) => void,
  ): NetstackDgramSocket {
    const t = typeof type === "string" ? type : type.type;
    if (t !== "udp4" && t !== "udp6")
      throw new NetstackError("EINVAL", `bad socket type ${String(t)}`);
    const s = new NetstackDgramSocket(this.driver, t);
    if (onMessage) s.on("message", onMessage);
    return s;
  }

  /** ICMP echo to `address` through the tunnel; resolves with the round-trip time. */
  ping(address: string, opts?: PingOptions): Promise<PingResult> {
    return ping(this.driver, address, opts);
  }

  /** Resolves a name with the tunnel's DNS servers (A and AAAA); an IP literal resolves to itself. */
  lookup(name: string, opts?: LookupOptions): Promise<LookupAddress[]> {
    return lookup(this.driver, this.dnsServers, name, opts);
  }
}
