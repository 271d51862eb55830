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
export type * as DiscoveryProto from "./discovery/proto.js";
export { CLUSTER_PROTO_PATH, CLUSTER_SERVICE_NAME } from "./discovery/proto.js";
export { DiscoveryServer, type DiscoveryServerOptions } from "./discovery/server.js";
export {
  firstHardwareMac,
  isUla,
  nodeAddressFromMac,
  nodeAddressFromPublicKey,
  parseMac,
  ulaPrefix,
} from "./kubespan/addressing.js";
export {
  type AffiliateData,
  type DiscoveredAffiliate,
  decodeAffiliateData,
  decodeEndpoint,
  encodeAffiliateData,
  encodeEndpoint,
  type KubeSpanAffiliate,
} from "./kubespan/affiliate.js";
export {
  ConfigError,
  DefaultDiscoveryEndpoint,
  type GenerateConfigOptions,
  generateConfig,
  type KubeSpanConfig,
  loadConfig,
  type MeshConfig,
} from "./kubespan/config.js";
export * as KubeSpanConstants from "./kubespan/constants.js";
export {
  ControlError,
  type ControlRequest,
  ControlServer,
  ControlSocketName,
  type ControlSource,
  controlRequest,
  controlSocketPath,
} from "./kubespan/control-socket.js";
export { MeshNode } from "./kubespan/controller.js";
export type { BackoffOptions } from "./kubespan/discovery-backoff.js";
export { DiscoveryClient, type DiscoveryClientOptions } from "./kubespan/discovery-client.js";
export {
  clusterSecretKey,
  openAffiliateData,
  openEndpoint,
  sealAffiliateData,
  sealEndpoint,
} from "./kubespan/discovery-crypto.js";
export { type DiscoveryTarget, parseDiscoveryEndpoint } from "./kubespan/discovery-endpoint.js";
export type { DiscoveryClientStats } from "./kubespan/discovery-stats.js";
export { advertisedEndpoints, filterIps, localAddresses } from "./kubespan/endpoints.js";
export {
  type KubeSpanIdentity,
  loadOrCreateKubeSpanIdentity,
  loadOrCreateNodeIdentity,
  type NodeIdentity,
  publicIdentity,
} from "./kubespan/identity.js";
export { IpSet } from "./kubespan/ip-set.js";
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
export { SecondInitiatorDelayMs } from "./kubespan/peer-reconciler.js";
export { buildPeerSpecs, type PeerSpec, type PeerSpecResult } from "./kubespan/peer-spec.js";
export {
  DefaultPeerStatusTimings,
  type PeerDecision,
  type PeerSnapshot as KubeSpanPeerSnapshot,
  type PeerState,
  PeerStatus,
  type PeerStatusTimings,
} from "./kubespan/peer-status.js";
export { icmp6EchoRequest, isIcmp6Echo } from "./kubespan/probe.js";
export {
  formatResources,
  type MeshStateView,
  type OutputFormat,
  observedEndpoints,
  type ResourceKind,
  ResourceKinds,
  type ResourceRow,
  resourceRows,
} from "./kubespan/resources.js";
export {
  KubeSpanForceMark,
  KubeSpanMarkMask,
  KubeSpanRoutingTable,
  KubeSpanRulePriority,
  KubeSpanWireGuardMark,
  LinuxRouting,
  nftRuleset,
  nftTableName,
  nftTargetsScript,
  type RoutingOptions,
} from "./kubespan/routing.js";
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
export { DEFAULT_SOCKET_DIR, UapiFramer, type UapiHandler, UapiServer } from "./uapi-server.js";
