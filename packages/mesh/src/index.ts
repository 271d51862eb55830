export { type Bind, BindError, type PreparedBind, type ReceiveHandler } from "./bind/bind.js";
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
  createLogger,
  type Logger,
  type LogLevel,
  logLevelFromEnv,
  silentLogger,
} from "./logger.js";
export { DEFAULT_SOCKET_DIR, UapiFramer, type UapiHandler, UapiServer } from "./uapi-server.js";
