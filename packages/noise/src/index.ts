/**
 * @wirespan/noise: the WireGuard protocol without I/O. The Engine is the entry point; the
 * building blocks are exported for tools, tests and alternative runtimes. The Node crypto
 * provider is a separate subpath export (`@wirespan/noise/crypto/node`) so that this module
 * stays free of `node:` imports.
 */
export type {
  Action,
  DeliverAction,
  PeerEvent,
  PeerEventAction,
  SendAction,
} from "./actions.js";
export { AllowedIPs } from "./allowed-ips.js";
export {
  type Cidr,
  cidrContains,
  formatCidr,
  formatIp,
  makeCidr,
  parseCidr,
  parseIp,
} from "./cidr.js";
export * from "./constants.js";
export {
  CookieChecker,
  CookieGenerator,
  constantTimeEqual,
  constantTimeIsZero,
  cookieSource,
} from "./cookie.js";
export { kdf1, kdf2, kdf3 } from "./crypto/kdf.js";
export { portableCrypto } from "./crypto/portable.js";
export type { CryptoProvider } from "./crypto/provider.js";
export { type Endpoint, endpointKey, formatEndpoint, parseEndpoint } from "./endpoint.js";
export { Engine, type EngineOptions } from "./engine.js";
export * from "./errno.js";
export {
  type ConsumedInitiation,
  type ConsumedResponse,
  type CreatedInitiation,
  type CreatedResponse,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  deriveTransportKeys,
  type InitiatorState,
  noiseProtocol,
  type Protocol,
  wireguardProtocol,
} from "./handshake.js";
export * from "./messages.js";
export { paddingSize } from "./packet.js";
export { PACKETS_BURSTABLE, PACKETS_PER_SECOND, RateLimiter } from "./ratelimiter.js";
export { REPLAY_WINDOW_SIZE, ReplayWindow } from "./replay.js";
export { compareTai64n, TAI64N_LENGTH, tai64n } from "./tai64n.js";
export {
  type AllowedIpChange,
  type DeviceSnapshot,
  formatGet,
  formatSet,
  hexKey,
  type PeerRequest,
  type PeerSnapshot,
  parseGet,
  parseHexKey,
  parseSet,
  type SetRequest,
} from "./uapi.js";
