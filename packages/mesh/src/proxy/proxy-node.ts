/**
 * A rootless WireGuard endpoint with proxy front-ends — what `wirespan proxy -c FILE` runs and
 * what a program gets from `startProxy(config)`: a Device on the userspace TCP/IP stack (no TUN,
 * no root), configured through the UAPI from the wg-quick part, and the SOCKS5/HTTP proxies,
 * tunnels and health endpoint the file names. `connect`/`listen`/`fetch` reach the tunnel
 * directly from the program.
 */
import { lookup as hostLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { formatCidr } from "@wirespan/noise";
import { NetstackTun } from "@wirespan/tun/netstack/node";
import { Device } from "../device.js";
import { type Logger, silentLogger } from "../logger.js";
import { UapiServer } from "../uapi-server.js";
import type { ProxyLimits } from "./front-end.js";
import { FrontEndSet } from "./front-ends.js";
import { HealthServer } from "./health.js";
import { type ProxyConfig, uapiSetBody, type WgPeerConfig } from "./proxy-config.js";
import { stackTransport } from "./stack-transport.js";
import type { Transport } from "./transport.js";

export interface StartProxyOptions {
  readonly logger?: Logger;
  readonly limits?: Partial<ProxyLimits>;
  /** Also serve the UAPI socket `<dir>/<name>.sock` for `wg` (wirespan-wg --netstack). */
  readonly uapi?: { readonly name: string; readonly dir: string };
}

/** `host:port` for UAPI `endpoint=` (IPv6 in brackets), the host resolved here, on the host. */
async function resolveEndpoints(c: ProxyConfig): Promise<Map<WgPeerConfig, string>> {
  const out = new Map<WgPeerConfig, string>();
  for (const p of c.peers) {
    if (!p.endpoint) continue;
    let ip = p.endpoint.host;
    if (!isIP(ip)) {
      try {
        ip = (await hostLookup(ip)).address;
      } catch (err) {
        throw new Error(
          `cannot resolve peer endpoint ${p.endpoint.host}: ${(err as Error).message}`,
        );
      }
    }
    out.set(p, isIP(ip) === 6 ? `[${ip}]:${p.endpoint.port}` : `${ip}:${p.endpoint.port}`);
  }
  return out;
}

export class ProxyNode {
  private constructor(
    readonly device: Device,
    readonly stack: NetstackTun,
    readonly tunnel: Transport,
    readonly frontEnds: FrontEndSet,
    readonly health: HealthServer | null,
    readonly uapi: UapiServer | null,
  ) {}

  /** Starts the Device on a netstack and every front-end of `config`. */
  static async start(config: ProxyConfig, opts: StartProxyOptions = {}): Promise<ProxyNode> {
    const logger = opts.logger ?? silentLogger;
    const endpoints = await resolveEndpoints(config);
    const stack = new NetstackTun({
      addresses: config.interface.addresses.map(formatCidr),
      dns: [...config.interface.dns],
      mtu: config.interface.mtu,
      name: "wirespan-proxy",
    });
    // wg-quick: no ListenPort means a random one.
    const device = await Device.create({
      tun: stack,
      listenPort: config.interface.listenPort ?? 0,
      logger,
    });
    let frontEnds: FrontEndSet | null = null;
    let uapi: UapiServer | null = null;
    try {
      const body = uapiSetBody(config, endpoints);
      const rc = body === "" ? 0 : await device.ipcSet(body);
      if (rc !== 0) throw new Error(`the WireGuard configuration was refused (errno ${-rc})`);
      if (opts.uapi) {
        uapi = await UapiServer.listen(opts.uapi.name, device, { dir: opts.uapi.dir, logger });
      }
      const tunnel = stackTransport(stack);
      frontEnds = await FrontEndSet.start(config, { tunnel, limits: opts.limits, logger });
      const health = config.health
        ? await HealthServer.start(config.health, device, frontEnds.stats)
        : null;
      return new ProxyNode(device, stack, tunnel, frontEnds, health, uapi);
    } catch (err) {
      await frontEnds?.close();
      await uapi?.close();
      await device.close();
      throw err;
    }
  }

  /** What listens where, one line each (for the CLI's start message). */
  describe(): string[] {
    const lines = [`wireguard on udp port ${this.device.listenPort}`, ...this.frontEnds.describe()];
    if (this.health)
      lines.push(`health on ${this.health.address.host}:${this.health.address.port}`);
    return lines;
  }

  async close(): Promise<void> {
    await this.health?.close();
    await this.frontEnds.close();
    await this.uapi?.close();
    await this.device.close();
  }
}
