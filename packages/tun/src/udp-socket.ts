/**
 * Typed access to the batched-UDP half of this package's addon (native/udp.cc): recvmmsg/sendmmsg
 * with UDP GSO/GRO, SO_MARK (reference §1.6). Absent addon, non-Linux or WIRESPAN_NATIVE_UDP=0:
 * `nativeUdp()` returns null and callers use node:dgram.
 */
import { loadAddon } from "./addon.js";

export interface NativeUdpStats {
  readWakeups: number;
  recvCalls: number;
  buffersReceived: number;
  groBuffers: number;
  truncated: number;
  datagramsSent: number;
  sendCalls: number;
  gsoSends: number;
  sendErrors: number;
  lastSendErrno: number;
  gso: boolean;
  gsoDisabledByEio: boolean;
}

export interface NativeUdpPoller {
  start(): void;
  /** Sends packets[start .. start+count) to the 20-byte address record; returns how many went. */
  send(packets: Uint8Array[], start: number, count: number, addr: Uint8Array): number;
  enableGro(): boolean;
  setGso(on: boolean): void;
  /** Stops polling and closes the socket. */
  close(): void;
  stats(): NativeUdpStats;
  setRef(ref: boolean): void;
}

export interface NativeUdpAddon {
  /** Creates and binds a non-blocking UDP socket; returns [fd, bound port]. Throws with `code`. */
  openUdp(
    family: 4 | 6,
    port: number,
    host: string,
    v6only: boolean,
    bufferBytes: number,
  ): [number, number];
  setSocketMark(fd: number, mark: number): void;
  UdpPoller: new (
    fd: number,
    family: 4 | 6,
    buffer: ArrayBuffer,
    slotSize: number,
    maxBatch: number,
    meta: Int32Array,
    addrs: Uint8Array,
    onRead: (n: number) => void,
  ) => NativeUdpPoller;
}

let loaded: NativeUdpAddon | null | undefined;

/** The addon, or null where it is not built or not supported (then node:dgram is used). */
export function nativeUdp(): NativeUdpAddon | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== "linux" || process.env.WIRESPAN_NATIVE_UDP === "0") return loaded;
  const m = loadAddon();
  if (m.ok && typeof m.addon.openUdp === "function" && typeof m.addon.UdpPoller === "function") {
    loaded = m.addon as unknown as NativeUdpAddon;
  }
  return loaded;
}
