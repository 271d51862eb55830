/**
 * Bump allocation of short-lived packet buffers from 64 KiB slabs.
 *
 * A `new Uint8Array(1452)` costs a separate zeroed backing store plus the GC bookkeeping of one
 * more ArrayBuffer; at hundreds of thousands of packets a second that shows up in profiles
 * (bench/RESULTS.md). Views into a shared slab cost an object each. Memory is never reused: a
 * slab is fresh (zeroed) memory, carved front to back, and is freed by the garbage collector once
 * no view of it is alive, so a view handed out stays valid and private for as long as its holder
 * keeps it. The price: one long-lived packet keeps its 64 KiB slab alive.
 *
 * Runtime-agnostic (plain ArrayBuffer), like the rest of this package.
 */
const SLAB_SIZE = 64 * 1024;
/** Views start 8-byte aligned (DataView/BigUint64 friendly, cache friendly). */
const ALIGN = 8;

export class Slab {
  private buffer = new ArrayBuffer(SLAB_SIZE);
  private offset = 0;

  /** A zeroed view of `length` bytes that no other allocation shares. */
  alloc(length: number): Uint8Array {
    if (length > SLAB_SIZE / 4) return new Uint8Array(length);
    if (this.offset + length > SLAB_SIZE) {
      this.buffer = new ArrayBuffer(SLAB_SIZE);
      this.offset = 0;
    }
    const view = new Uint8Array(this.buffer, this.offset, length);
    this.offset += (length + ALIGN - 1) & ~(ALIGN - 1);
    return view;
  }
}
