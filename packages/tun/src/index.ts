export type {
  AttachTunOptions,
  LinuxTunOptions,
  LinuxTunStats,
  TunFromEnvOptions,
} from "./linux-tun.js";
export {
  attachTunFd,
  DEFAULT_BATCH_SIZE,
  DEFAULT_MTU,
  LinuxTun,
  openLinuxTun,
  openTunFromEnv,
} from "./linux-tun.js";
export { MemoryTun } from "./memory-tun.js";
export type { TunDevice, TunStats } from "./tun-device.js";
export { TUN_UNAVAILABLE, TunError } from "./tun-error.js";
export type { NativeUdpAddon, NativeUdpPoller, NativeUdpStats } from "./udp-socket.js";
export { nativeUdp } from "./udp-socket.js";
