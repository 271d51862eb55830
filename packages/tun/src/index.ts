/**
 * @wirespan/tun: packet interfaces — the {@link TunDevice} contract a Device reads and writes,
 * the Linux kernel TUN (native addon, optional: {@link TUN_UNAVAILABLE} where it cannot load),
 * descriptors inherited through WG_TUN_FD, and {@link MemoryTun} for programs and tests. The
 * userspace TCP/IP stack is `@wirespan/tun/netstack`.
 *
 * @module @wirespan/tun
 */
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
