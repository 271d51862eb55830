/**
 * `@wirespan/mesh`: WireGuard in a Node program. A {@link Device} joins the sans-IO Engine of
 * `@wirespan/noise` to a TUN (`@wirespan/tun`: a kernel TUN, MemoryTun or the netstack) and a
 * UDP {@link Bind}, configured through the WireGuard UAPI text (`ipcSet` / `ipcGet`);
 * {@link UapiServer} lets `wg` drive it. {@link MeshNode} runs a KubeSpan-style mesh member,
 * {@link DiscoveryServer} and {@link DiscoveryClient} the discovery service.
 *
 * This is the supported, semver-covered surface. `@wirespan/mesh/internal` holds the rest
 * (codecs, routing scripts, control socket, CLI helpers) for wirespan's own tools and tests
 * and may change in any release.
 *
 * @module @wirespan/mesh
 */
export { type Bind, BindError, type PreparedBind, type ReceiveHandler } from "./bind/bind.js";
export { MemoryBind, type MemoryFilter, MemoryNetwork } from "./bind/memory-bind.js";
export { UdpBind, type UdpBindOptions } from "./bind/udp-bind.js";
export {
  DEFAULT_LISTEN_PORT,
  Device,
  type DeviceErrors,
  type DeviceEventHandler,
  type DeviceOptions,
} from "./device.js";
export { DEFAULT_DISCOVERY_LIMITS, type DiscoveryLimits } from "./discovery/limits.js";
export type { DiscoveryMetrics } from "./discovery/metrics.js";
export { DiscoveryServer, type DiscoveryServerOptions } from "./discovery/server.js";
export type { AffiliateData, DiscoveredAffiliate } from "./kubespan/affiliate.js";
export {
  ConfigError,
  DefaultDiscoveryEndpoint,
  type GenerateConfigOptions,
  generateConfig,
  type KubeSpanConfig,
  loadConfig,
  type MeshConfig,
} from "./kubespan/config.js";
export { MeshNode } from "./kubespan/controller.js";
export type { BackoffOptions } from "./kubespan/discovery-backoff.js";
export { DiscoveryClient, type DiscoveryClientOptions } from "./kubespan/discovery-client.js";
export type { DiscoveryClientStats } from "./kubespan/discovery-stats.js";
export {
  type LocalClusterSecrets,
  type LocalNode,
  type LocalNodeOptions,
  newCluster,
  startLocalNode,
} from "./kubespan/local-mesh.js";
export type {
  MeshNodeEvents,
  MeshNodeOptions,
  MeshRouting,
  ObservedEndpoint,
  PeerStatusView,
} from "./kubespan/mesh-node-options.js";
export type { ReconcilerWork } from "./kubespan/peer-reconciler.js";
export {
  DefaultPeerStatusTimings,
  type PeerState,
  type PeerStatusTimings,
} from "./kubespan/peer-status.js";
export { LinuxRouting, type RoutingOptions } from "./kubespan/routing.js";
export {
  createLogger,
  type Logger,
  type LogLevel,
  logLevelFromEnv,
  silentLogger,
} from "./logger.js";
export { type BindAddress, DefaultProxyLimits, type ProxyLimits } from "./proxy/front-end.js";
export { type FrontEndConfig, FrontEndSet, type FrontEndSetOptions } from "./proxy/front-ends.js";
export { type HealthReport, HealthServer, healthReport } from "./proxy/health.js";
export { hostTransport } from "./proxy/host-transport.js";
export { HttpProxy, type HttpProxyOptions } from "./proxy/http-proxy.js";
export { NetstackNode, type NetstackNodeOptions } from "./proxy/netstack-node.js";
export {
  type ProxyConfig,
  ProxyConfigError,
  parseProxyConfig,
  type WgInterfaceConfig,
  type WgPeerConfig,
} from "./proxy/proxy-config.js";
export { ProxyNode, type StartProxyOptions } from "./proxy/proxy-node.js";
export { type Socks5Options, Socks5Server } from "./proxy/socks5-server.js";
export { stackTransport, type TunnelStack } from "./proxy/stack-transport.js";
export { ProxyStats, renderProxyStats } from "./proxy/stats.js";
export { TcpForward, type TcpForwardOptions } from "./proxy/tcp-forward.js";
export type {
  DatagramSocket,
  StreamServer,
  StreamSocket,
  Transport,
} from "./proxy/transport.js";
export { UdpForward, type UdpForwardOptions } from "./proxy/udp-forward.js";
export { uapiSocketDir } from "./socket-dir.js";
export { DEFAULT_SOCKET_DIR, type UapiHandler, UapiServer } from "./uapi-server.js";
