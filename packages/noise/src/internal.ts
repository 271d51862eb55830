/**
 * `@wirespan/noise/internal`: the building blocks under the Engine — message codec, handshake
 * steps, cookies, KDFs, replay window, rate limiter, UAPI codec, constants — for wirespan's own
 * tools, tests and benchmarks. NOT covered by semver: any of it may change in a patch release.
 * Programs use the Engine from `@wirespan/noise`.
 *
 * @module
 */

export { AllowedIPs } from "./allowed-ips.js";
export * from "./constants.js";
export {
  CookieChecker,
  CookieGenerator,
  constantTimeEqual,
  constantTimeIsZero,
  cookieSource,
} from "./cookie.js";
export { kdf1, kdf2, kdf3 } from "./crypto/kdf.js";
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
export * from "./index.js";
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
