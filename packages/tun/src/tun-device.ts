/**
 * The packet interface a WireGuard device reads plaintext IP packets from and writes decrypted
 * ones to: a Linux TUN (`linux-tun.ts`) or its in-memory twin (`memory-tun.ts`).
 */
export interface TunDevice {
  /** Interface name as the OS knows it (may differ from the requested one, e.g. `wg%d`). */
  readonly name: string;
  /** MTU of the interface: as opened, then as last seen (see {@link onMtuChange}). */
  readonly mtu: number;
  /**
   * Calls `handler` with the new MTU whenever the interface's MTU changes behind the device's
   * back (`ip link set NAME mtu N`), after the device has adapted its own reads to it. Devices
   * whose MTU cannot change need not implement it.
   */
  onMtuChange?(handler: (mtu: number) => void): void;
  /**
   * Starts delivering batches of IP packets read from the interface; a later call replaces the
   * handler. The array and the views are valid only during the call: the buffers are reused for
   * the next batch, so copy anything that must outlive it.
   */
  onPackets(handler: (packets: Uint8Array[]) => void): void;
  /**
   * Writes a batch of IP packets (one syscall per packet at most; batched in one native call).
   * Drops (and counts) on EAGAIN rather than blocking; writes after close are dropped too.
   */
  write(packets: Uint8Array[]): void;
  /**
   * Fires once when the interface disappears (reason: an Error) or the device is closed
   * (reason: null). Registered after that, the handler is called on the next microtask.
   */
  onClose(handler: (reason: Error | null) => void): void;
  /** Stops reading, releases the descriptor; a non-persistent interface disappears with it. */
  close(): Promise<void>;
}

/** Counters of a device, for tests and benchmarks. Exact below 2^53. */
export interface TunStats {
  /** Batches delivered to the packets handler (one JS callback each). */
  readBatches: number;
  /** Packets delivered to the packets handler. */
  packetsRead: number;
  /** Packets accepted by the interface. */
  packetsWritten: number;
  /** Packets dropped on write: queue full (EAGAIN), rejected by the kernel, or device closed. */
  writeDrops: number;
}
