/**
 * `@wirespan/noise`: the WireGuard protocol without I/O (whitepaper §5). Feed the {@link Engine}
 * datagrams, tunnel packets and the time; it answers with {@link Action}s. Configure it with the
 * WireGuard UAPI text (`ipcSet` / `ipcGet`). It runs in any JavaScript runtime: bring a
 * {@link CryptoProvider} — `@wirespan/noise/crypto/node` (node:crypto, libsodium where installed)
 * or `@wirespan/noise/crypto/portable` (pure JavaScript, anywhere).
 *
 * This is the supported, semver-covered surface. `@wirespan/noise/internal` holds the building
 * blocks for wirespan's own tools and tests and may change in any release.
 *
 * @module @wirespan/noise
 */
export type {
  Action,
  DeliverAction,
  PeerEvent,
  PeerEventAction,
  SendAction,
} from "./actions.js";
export {
  type Cidr,
  cidrContains,
  formatCidr,
  formatIp,
  makeCidr,
  parseCidr,
  parseIp,
} from "./cidr.js";
export type { CryptoProvider } from "./crypto/provider.js";
export { DROP_REASONS, type DropCounts, type DropReason } from "./drop-reason.js";
export { type Endpoint, endpointKey, formatEndpoint, parseEndpoint } from "./endpoint.js";
export { Engine, type EngineOptions } from "./engine.js";
export { EADDRINUSE, EINVAL, EIO, ENODEV, ENOENT, EPROTO, EUNKNOWN } from "./errno.js";
export {
  type AllowedIpChange,
  hexKey,
  type PeerActivity,
  type PeerRequest,
  type PeerSnapshot,
  parseHexKey,
  type SetRequest,
} from "./uapi.js";
