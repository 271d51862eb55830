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
  /** sendmmsg calls that found the socket's send buffer full (EAGAIN). */
  sendBlocked: number;
  lastSendErrno: number;
  gso: boolean;
  gsoDisabledByEio: boolean;
  /** Receive classifier (native/classify.h): datagrams seen that are not transport data. */
  handshakesSeen: number;
  /** Dropped before any MAC check: per-source token bucket under load. */
  shedRate: number;
  /** Dropped before any MAC check: no room for more handshake messages in the batch. */
  shedBudget: number;
  /** Dropped: not transport data and larger than a handshake slot (256 bytes). */
  shedInvalid: number;
  /** Wakeups that stopped draining at the per-wakeup cap. */
  drainCapHits: number;
  datagramsDrained: number;
  /** The classifier's queue-depth load state (one second after a deep drain). */
  underLoad: boolean;
}

export interface NativeUdpPoller {
  start(): void;
  /**
   * Sends packets[start .. start+count) to the 20-byte address record; returns sent + 65536 ·
   * failed. A failed datagram (unreachable, EPERM, …) is dropped; a full socket buffer (EAGAIN)
   * stops early — sent + failed < count — and the rest is for the caller to send again once
   * writable ({@link watchWritable}).
   */
  send(packets: Uint8Array[], start: number, count: number, addr: Uint8Array): number;
  /** Also reports writability (onRead flag 4, no datagrams) while on. */
  watchWritable(on: boolean): void;
  enableGro(): boolean;
  setGso(on: boolean): void;
  /** Stops polling and closes the socket. */
  close(): void;
  stats(): NativeUdpStats;
  setRef(ref: boolean): void;
}

export interface NativeUdpAddon {
  /**
   * Creates and binds a non-blocking UDP socket; returns [fd, bound port]. Throws with `code`.
   * `receiveBytes` (default `bufferBytes`) sizes SO_RCVBUF, `bufferBytes` SO_SNDBUF.
   */
  openUdp(
    family: 4 | 6,
    port: number,
    host: string,
    v6only: boolean,
    bufferBytes: number,
    receiveBytes?: number,
  ): [number, number];
  setSocketMark(fd: number, mark: number): void;
  /**
   * `buffer` holds `maxBatch` slots of `slotSize` bytes, then `smallSlots` slots of 256 bytes for
   * handshake messages; `meta` has 4 and `addrs` 20 entries per slot of either kind. `onRead`
   * gets the number of datagrams in its low 16 bits and flags above (see native/udp.cc).
   */
  UdpPoller: new (
    fd: number,
    family: 4 | 6,
    buffer: ArrayBuffer,
    slotSize: number,
    maxBatch: number,
    meta: Int32Array,
    addrs: Uint8Array,
    onRead: (value: number) => void,
    smallSlots: number,
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
