/**
 * Starts every front-end a configuration names, over one tunnel transport: SOCKS5 and HTTP
 * proxies and client tunnels listen on the host and dial into the tunnel; server tunnels listen
 * in the tunnel and dial the host. If one fails to start (a port taken), those already started
 * are closed and the error names the section.
 */
import type { Logger } from "../logger.js";
import type { ProxyLimits, RunningFrontEnd } from "./front-end.js";
import { hostTransport } from "./host-transport.js";
import { HttpProxy } from "./http-proxy.js";
import type { ProxyConfig } from "./proxy-config.js";
import { Socks5Server } from "./socks5-server.js";
import { ProxyStats } from "./stats.js";
import { TcpForward } from "./tcp-forward.js";
import type { Transport } from "./transport.js";
import { UdpForward } from "./udp-forward.js";

/** The front-end parts of a configuration (ProxyConfig fits). */
export type FrontEndConfig = Pick<
  ProxyConfig,
  | "socks5"
  | "http"
  | "tcpClientTunnels"
  | "tcpServerTunnels"
  | "udpClientTunnels"
  | "udpServerTunnels"
>;

export interface FrontEndSetOptions {
  readonly tunnel: Transport;
  readonly stats?: ProxyStats;
  readonly limits?: Partial<ProxyLimits>;
  readonly logger?: Logger;
}

export class FrontEndSet {
  private constructor(
    readonly running: readonly RunningFrontEnd[],
    readonly stats: ProxyStats,
  ) {}

  static async start(config: FrontEndConfig, opts: FrontEndSetOptions): Promise<FrontEndSet> {
    const stats = opts.stats ?? new ProxyStats();
    const common = { stats, limits: opts.limits, logger: opts.logger };
    const tunnel = opts.tunnel;
    const starts: ReadonlyArray<readonly [string, () => Promise<RunningFrontEnd>]> = [
      ...config.socks5.map(
        (s) =>
          [
            `[Socks5] ${s.listen.host}:${s.listen.port}`,
            () =>
              Socks5Server.start({
                ...common,
                transport: tunnel,
                listen: s.listen,
                credentials: s.credentials,
              }),
          ] as const,
      ),
      ...config.http.map(
        (s) =>
          [
            `[http] ${s.listen.host}:${s.listen.port}`,
            () =>
              HttpProxy.start({
                ...common,
                transport: tunnel,
                listen: s.listen,
                credentials: s.credentials,
              }),
          ] as const,
      ),
      ...config.tcpClientTunnels.map(
        (t) =>
          [
            `[TCPClientTunnel] ${t.listen.host}:${t.listen.port}`,
            () =>
              TcpForward.start({
                ...common,
                kind: "tcp_client",
                transport: tunnel,
                listen: t.listen,
                target: t.target,
              }),
          ] as const,
      ),
      ...config.tcpServerTunnels.map(
        (t) =>
          [
            `[TCPServerTunnel] ListenPort ${t.listen.port}`,
            () =>
              TcpForward.start({
                ...common,
                kind: "tcp_server",
                transport: hostTransport,
                listenOn: tunnel,
                listen: t.listen,
                target: t.target,
              }),
          ] as const,
      ),
      ...config.udpClientTunnels.map(
        (t) =>
          [
            `[UDPProxyTunnel] ${t.listen.host}:${t.listen.port}`,
            () =>
              UdpForward.start({
                ...common,
                limits: { ...opts.limits, udpIdleMs: t.idleMs },
                kind: "udp_client",
                transport: tunnel,
                listen: t.listen,
                target: t.target,
              }),
          ] as const,
      ),
      ...config.udpServerTunnels.map(
        (t) =>
          [
            `[UDPServerTunnel] ListenPort ${t.listen.port}`,
            () =>
              UdpForward.start({
                ...common,
                limits: { ...opts.limits, udpIdleMs: t.idleMs },
                kind: "udp_server",
                transport: hostTransport,
                listenOn: tunnel,
                listen: t.listen,
                target: t.target,
              }),
          ] as const,
      ),
    ];
    const running: RunningFrontEnd[] = [];
    for (const [what, start] of starts) {
      try {
        running.push(await start());
      } catch (err) {
        for (const r of running) await r.close();
        throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return new FrontEndSet(running, stats);
  }

  /** One line per front-end: what listens where. */
  describe(): string[] {
    return this.running.map((r) => `${r.kind} on ${r.address.host || "tunnel"}:${r.address.port}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.running.map((r) => r.close()));
  }
}
