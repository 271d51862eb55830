/**
 * `@wirespan/tun/internal`: the raw batched-UDP half of the native addon, for
 * `@wirespan/mesh`'s batched bind and wirespan's tools. NOT covered by semver. Programs use
 * `@wirespan/tun` (and a Bind from `@wirespan/mesh`).
 *
 * @module
 */
export * from "./index.js";
export type { NativeAead } from "./native-aead.js";
export { nativeAead } from "./native-aead.js";
export type { NativeUdpAddon, NativeUdpPoller, NativeUdpStats } from "./udp-socket.js";
export { nativeUdp } from "./udp-socket.js";
