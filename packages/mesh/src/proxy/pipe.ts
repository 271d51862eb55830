/**
 * Joins two TCP streams both ways, the way a kernel-backed proxy would: backpressure through
 * `pipe` (a slow reader slows the writer; at most a highWaterMark of bytes buffered per
 * direction), half-close carried across (a FIN on one side ends the other's writable side only),
 * and an error or reset on either side tears both down — the other side with a reset too, so a
 * stream cut short never looks like a clean end (a FIN) to the client, as with a kernel NAT.
 */
import type { Duplex } from "node:stream";

/** A stream that can end with a TCP RST (`net.Socket` and the netstack's socket can). */
interface Resettable extends Duplex {
  resetAndDestroy?(): unknown;
}

/** Ends `s` with a RST where it can (RFC 9293 §3.10.7.1 abort), else destroys it. */
export function reset(s: Resettable): void {
  if (s.destroyed) return;
  try {
    if (s.resetAndDestroy) {
      s.resetAndDestroy();
      return;
    }
  } catch {
    // Not a TCP socket or not connected: a plain destroy is all there is.
  }
  s.destroy();
}

/** Byte counters fed by `join`: `up` counts a → b, `down` b → a. */
export interface ByteCounter {
  bytesUp: number;
  bytesDown: number;
}

/** Pipes `a` (the client) ↔ `b` (the target); resolves when both are closed. */
export function join(a: Duplex, b: Duplex, bytes?: ByteCounter): Promise<void> {
  return new Promise((resolve) => {
    if (bytes) {
      a.on("data", (d: Uint8Array) => {
        bytes.bytesUp += d.length;
      });
      b.on("data", (d: Uint8Array) => {
        bytes.bytesDown += d.length;
      });
    }
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) resolve();
    };
    a.once("close", onClose);
    b.once("close", onClose);
    a.on("error", () => reset(b));
    b.on("error", () => reset(a));
    // One side closing abruptly (destroyed without an error) must not leave the other open.
    a.once("close", () => {
      if (!a.readableEnded || !a.writableFinished) reset(b);
    });
    b.once("close", () => {
      if (!b.readableEnded || !b.writableFinished) reset(a);
    });
    // Once both directions have ended cleanly, close both (allowHalfOpen sockets wait for us).
    const maybeDone = () => {
      if (a.readableEnded && b.readableEnded && a.writableFinished && b.writableFinished) {
        a.destroy();
        b.destroy();
      }
    };
    for (const s of [a, b]) {
      s.once("end", maybeDone);
      s.once("finish", maybeDone);
    }
    a.pipe(b);
    b.pipe(a);
  });
}
