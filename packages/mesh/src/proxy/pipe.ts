/**
 * Joins two TCP streams both ways, the way a kernel-backed proxy would: backpressure through
 * `pipe` (a slow reader slows the writer; at most a highWaterMark of bytes buffered per
 * direction), half-close carried across (a FIN on one side ends the other's writable side only),
 * and an error or reset on either side tears both down.
 */
import type { Duplex } from "node:stream";

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
    const teardown = () => {
      a.destroy();
      b.destroy();
    };
    a.once("close", onClose);
    b.once("close", onClose);
    a.on("error", teardown);
    b.on("error", teardown);
    // One side closing abruptly (destroyed without an error) must not leave the other open.
    a.once("close", () => {
      if (!a.readableEnded || !a.writableFinished) b.destroy();
    });
    b.once("close", () => {
      if (!b.readableEnded || !b.writableFinished) a.destroy();
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
