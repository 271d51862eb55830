/**
 * Typed access to the TUN half of the addon (native/tun.cc), loaded by addon.ts on first use
 * so that MemoryTun and the netstack work where the addon cannot load.
 */
import { loadAddon } from "./addon.js";
import { TUN_UNAVAILABLE, TunError } from "./tun-error.js";

/** Native counters; a superset of {@link TunStats}. */
export interface NativeStats {
  readWakeups: number;
  readBatches: number;
  packetsRead: number;
  /** Packets longer than a read slot (the MTU was raised after open), dropped. */
  readTruncated: number;
  /** Largest batch delivered so far. */
  maxBatch: number;
  packetsWritten: number;
  writeDrops: number;
  /** errno of the most recent failed write, 0 if none. */
  lastWriteErrno: number;
}

/** Watches one TUN descriptor (which it owns) and reads/writes packets in batches. */
export interface NativePoller {
  /** Watch for errors only (false) or also read (true); the loop stays alive while watching. */
  start(readable: boolean): void;
  write(packets: Uint8Array[]): number;
  close(): void;
  stats(): NativeStats;
  setRef(ref: boolean): void;
  /** Reads into these slots from the next wakeup on (the MTU grew past the slot size). */
  setBuffer(buffer: ArrayBuffer, slotSize: number, maxBatch: number, lengths: Int32Array): void;
}

export interface NativeTunAddon {
  /** Creates or attaches to TUN `name` (IFF_TUN | IFF_NO_PI), returns a non-blocking fd. */
  openTun(name: string, offload?: boolean): number;
  /** Name of the interface a TUN fd is attached to (TUNGETIFF). */
  tunName(fd: number): string;
  /** Whether the fd carries virtio-net headers (IFF_VNET_HDR). */
  tunVnet(fd: number): boolean;
  /** Sets O_NONBLOCK and FD_CLOEXEC on an inherited fd. */
  prepareFd(fd: number): void;
  closeFd(fd: number): void;
  getMtu(name: string): number;
  setMtu(name: string, mtu: number): void;
  isUp(name: string): boolean;
  setUp(name: string): void;
  TunPoller: new (
    fd: number,
    buffer: ArrayBuffer,
    slotSize: number,
    maxBatch: number,
    lengths: Int32Array,
    onRead: (n: number) => void,
    vnet?: boolean,
  ) => NativePoller;
}

/** Errors thrown by the addon carry Node's system-error fields. */
export interface NativeError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
}

let addon: NativeTunAddon | undefined;

/**
 * The TUN half of the addon, or a TunError (code `ERR_TUN_UNAVAILABLE`) saying why there is no
 * kernel TUN here and what to use instead.
 */
export function nativeTun(): NativeTunAddon {
  if (addon !== undefined) return addon;
  const loaded = loadAddon();
  if (!loaded.ok || typeof loaded.addon.openTun !== "function") {
    const why = loaded.ok
      ? "the native addon was built without TUN support"
      : loaded.reason.message;
    throw new TunError(
      `a kernel TUN device needs wirespan's native addon: ${why}. Without it, use the ` +
        "userspace TCP/IP stack (@wirespan/tun/netstack) or MemoryTun instead of a kernel TUN.",
      TUN_UNAVAILABLE,
      loaded.ok ? undefined : loaded.reason,
    );
  }
  addon = loaded.addon as unknown as NativeTunAddon;
  return addon;
}
