/**
 * Collects the datagrams a node sends through one relay during one event-loop turn into one Send
 * frame per destination (protocol.ts: 32 B key ‖ (u16 length ‖ datagram)+), handed to `emit` at
 * the end of the turn (process.nextTick) or as soon as a frame is full. The Device sends a whole
 * TUN batch within one callback, so a burst of datagrams becomes one WebSocket message, one
 * masking pass and one write, and one message for the relay to parse and forward.
 *
 * Datagrams are copied in at once: the caller's buffer is lent (bind.ts) and reused after the call.
 */
import { BatchHeaderLength, FrameType, MaxBatchFrame } from "./protocol.js";

interface Pending {
  readonly to: string;
  buf: Uint8Array;
  length: number;
}

/** Scratch buffers kept for reuse between turns (more destinations in one turn allocate). */
const MaxSpare = 4;

export class PacketBatcher {
  private readonly pending = new Map<string, Pending>();
  private readonly spare: Uint8Array[] = [];
  private scheduled = false;

  /** `emit` gets each finished frame; it owns it (a fresh buffer of exactly the frame's size). */
  constructor(private readonly emit: (frame: Uint8Array) => void) {}

  /** Queues `packet` (1 … MaxRelayedPacket bytes) for the node whose public key is `to` (base64). */
  add(to: string, packet: Uint8Array): void {
    let p = this.pending.get(to);
    if (p !== undefined && p.length + 2 + packet.length > MaxBatchFrame) {
      this.finish(p);
      p = undefined;
    }
    if (p === undefined) {
      const buf = this.spare.pop() ?? new Uint8Array(MaxBatchFrame);
      p = { to, buf, length: BatchHeaderLength };
      buf[0] = FrameType.Send;
      buf.set(Buffer.from(to, "base64").subarray(0, 32), 1);
      this.pending.set(to, p);
    }
    const at = p.length;
    p.buf[at] = packet.length >> 8;
    p.buf[at + 1] = packet.length & 0xff;
    p.buf.set(packet, at + 2);
    p.length = at + 2 + packet.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  /** Emits every pending frame now. */
  readonly flush = (): void => {
    this.scheduled = false;
    for (const p of this.pending.values()) this.finish(p);
  };

  /** Drops what is pending (the connection went away). */
  clear(): void {
    this.pending.clear();
  }

  private finish(p: Pending): void {
    // Copy out the exact frame: ws keeps a reference to what it is given until it is written.
    const frame = p.buf.slice(0, p.length);
    this.pending.delete(p.to);
    if (this.spare.length < MaxSpare) this.spare.push(p.buf);
    this.emit(frame);
  }
}
