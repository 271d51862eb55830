/**
 * The in-memory twin of a TUN device (wireguard-go's tuntest idea): tests inject packets as if
 * the OS had routed them into the interface and see what the device writes back.
 */

import { CloseSignal } from "./close-signal.js";
import type { TunDevice, TunStats } from "./tun-device.js";

export class MemoryTun implements TunDevice {
  readonly name: string;
  #mtu: number;
  #mtuHandlers: Array<(mtu: number) => void> = [];
  /** Copies of every packet written, in order. Clear with `written.length = 0`. */
  readonly written: Uint8Array[] = [];
  #handler: ((packets: Uint8Array[]) => void) | undefined;
  /** Packets injected before a handler was set, delivered when one is (like the kernel queue). */
  #pending: Uint8Array[][] = [];
  #writeHandlers: Array<(packets: Uint8Array[]) => void> = [];
  readonly #close = new CloseSignal();
  #stats: TunStats = { readBatches: 0, packetsRead: 0, packetsWritten: 0, writeDrops: 0 };

  constructor(name = "mem0", mtu = 1420) {
    this.name = name;
    this.#mtu = mtu;
  }

  get mtu(): number {
    return this.#mtu;
  }

  onMtuChange(handler: (mtu: number) => void): void {
    this.#mtuHandlers.push(handler);
  }

  /** Changes the MTU as `ip link set NAME mtu N` would a real interface's. */
  setMtu(mtu: number): void {
    if (mtu === this.#mtu) return;
    this.#mtu = mtu;
    for (const h of this.#mtuHandlers) h(mtu);
  }

  /**
   * Delivers `packets` as one batch to the packets handler, as if read from the OS; queued
   * until a handler is set. Dropped once closed; an empty batch is not delivered.
   */
  inject(packets: Uint8Array[]): void {
    if (this.#close.closed || packets.length === 0) return;
    if (this.#handler === undefined) {
      this.#pending.push([...packets]);
      return;
    }
    this.#deliver(this.#handler, packets);
  }

  onPackets(handler: (packets: Uint8Array[]) => void): void {
    this.#handler = handler;
    const pending = this.#pending;
    this.#pending = [];
    for (const batch of pending) {
      if (this.#close.closed || this.#handler !== handler) break;
      this.#deliver(handler, batch);
    }
  }

  /**
   * Records copies of the packets and passes them to the write handlers. Like a TUN, an empty
   * packet is rejected (counted in writeDrops) and so is everything after close.
   */
  write(packets: Uint8Array[]): void {
    const accepted: Uint8Array[] = [];
    for (const p of packets) {
      if (this.#close.closed || p.byteLength === 0) {
        this.#stats.writeDrops++;
        continue;
      }
      const copy = p.slice();
      this.written.push(copy);
      accepted.push(copy);
    }
    this.#stats.packetsWritten += accepted.length;
    if (accepted.length === 0) return;
    for (const h of this.#writeHandlers) h(accepted);
  }

  /** Adds a handler for each written batch (the copies also kept in `written`). */
  onWrite(handler: (packets: Uint8Array[]) => void): void {
    this.#writeHandlers.push(handler);
  }

  onClose(handler: (reason: Error | null) => void): void {
    this.#close.listen(handler);
  }

  async close(): Promise<void> {
    this.#shutdown(null);
  }

  /** Simulates the interface disappearing: onClose handlers receive `reason`. */
  fail(reason: Error): void {
    this.#shutdown(reason);
  }

  stats(): TunStats {
    return { ...this.#stats };
  }

  #deliver(handler: (packets: Uint8Array[]) => void, packets: Uint8Array[]): void {
    this.#stats.readBatches++;
    this.#stats.packetsRead += packets.length;
    handler(packets);
  }

  #shutdown(reason: Error | null): void {
    this.#close.fire(reason, () => {
      this.#handler = undefined;
      this.#pending = [];
    });
  }
}
