/**
 * `@wirespan/mesh/internal`: everything under the supported surface — discovery codecs and
 * crypto, addressing, peer specs and status machine, routing scripts, the control socket,
 * resource views — for wirespan's own CLIs, tools and tests. NOT covered by semver: any of it
 * may change in a patch release. Programs use `@wirespan/mesh`.
 *
 * @module
 */

export type * as DiscoveryProto from "./discovery/proto.js";
export { CLUSTER_PROTO_PATH, CLUSTER_SERVICE_NAME } from "./discovery/proto.js";
export * from "./index.js";
export {
  firstHardwareMac,
  isUla,
  nodeAddressFromMac,
  nodeAddressFromPublicKey,
  parseMac,
  ulaPrefix,
} from "./kubespan/addressing.js";
export {
  decodeAffiliateData,
  decodeEndpoint,
  encodeAffiliateData,
  encodeEndpoint,
  type KubeSpanAffiliate,
} from "./kubespan/affiliate.js";
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
export {
  clusterSecretKey,
  openAffiliateData,
  openEndpoint,
  sealAffiliateData,
  sealEndpoint,
} from "./kubespan/discovery-crypto.js";
export { type DiscoveryTarget, parseDiscoveryEndpoint } from "./kubespan/discovery-endpoint.js";
export { advertisedEndpoints, filterIps, localAddresses } from "./kubespan/endpoints.js";
export {
  type KubeSpanIdentity,
  loadOrCreateKubeSpanIdentity,
  loadOrCreateNodeIdentity,
  type NodeIdentity,
  publicIdentity,
} from "./kubespan/identity.js";
export { IpSet } from "./kubespan/ip-set.js";
export { SecondInitiatorDelayMs } from "./kubespan/peer-reconciler.js";
export { buildPeerSpecs, type PeerSpec, type PeerSpecResult } from "./kubespan/peer-spec.js";
export {
  type PeerDecision,
  type PeerSnapshot as KubeSpanPeerSnapshot,
  PeerStatus,
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
  nftRuleset,
  nftTableName,
  nftTargetsScript,
} from "./kubespan/routing.js";
export { UapiFramer } from "./uapi-server.js";
