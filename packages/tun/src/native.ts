/**
 * Typed access to the TUN half of the addon (native/tun.cc) built by `node-gyp rebuild` (the
 * package's install script). Loaded on first use so that MemoryTun works where the addon cannot
 * be built.
 */
import { createRequire } from "node:module";

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

/** The addon, or a clear error saying why it is unavailable. */
export function nativeTun(): NativeTunAddon {
  if (addon !== undefined) return addon;
  if (process.platform !== "linux") {
    throw new Error(`TUN devices are supported on Linux only (this is ${process.platform})`);
  }
  const require = createRequire(import.meta.url);
  let loaded: Partial<NativeTunAddon>;
  try {
    loaded = require("../build/Release/wirespan_tun.node") as Partial<NativeTunAddon>;
  } catch (err) {
    throw new Error(
      "the wirespan TUN addon is not built: run `pnpm install` (it needs a C++ compiler, make " +
        "and python3 for node-gyp)",
      { cause: err },
    );
  }
  if (typeof loaded.openTun !== "function") {
    throw new Error("the wirespan TUN addon was built without Linux support");
  }
  addon = loaded as NativeTunAddon;
  return addon;
}
