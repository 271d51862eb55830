/**
 * Connection events are queued while the layer works and delivered once it is back in a
 * consistent state (at the end of the outermost layer call), so an application handler that
 * calls back into the layer (write in `readable`, close in `end`) never sees a half-updated TCB.
 */
import type { Connection, ConnectionEvent } from "./connection.js";
import type { TcpError } from "./types.js";

interface QueuedEvent {
  c: Connection;
  ev: ConnectionEvent;
  err: TcpError | undefined;
}

export class EventQueue {
  private readonly q: QueuedEvent[] = [];
  private depth = 0;

  /** Marks entry into a layer call. */
  enter(): void {
    this.depth++;
  }

  /** Marks the end of a layer call; the outermost one delivers the queue. */
  exit(): void {
    this.depth--;
    if (this.depth === 0 && this.q.length > 0) this.flush();
  }

  push(c: Connection, ev: ConnectionEvent, err: TcpError | undefined): void {
    // One pending `readable` per connection is enough (one per segment would allocate per segment).
    if (ev === "readable") {
      if (c.readableQueued) return;
      c.readableQueued = true;
    }
    this.q.push({ c, ev, err });
    if (this.depth === 0) this.flush();
  }

  /** Delivers queued events; a throwing handler does not stop the others (rethrown after). */
  private flush(): void {
    this.depth++;
    let error: unknown;
    let failed = false;
    try {
      for (let i = 0; i < this.q.length; i++) {
        const { c, ev, err } = this.q[i];
        try {
          deliver(c, ev, err);
        } catch (e) {
          if (!failed) error = e;
          failed = true;
        }
      }
      this.q.length = 0;
    } finally {
      this.depth--;
    }
    if (failed) throw error;
  }
}

function deliver(c: Connection, ev: ConnectionEvent, err: TcpError | undefined): void {
  const h = c.events;
  switch (ev) {
    case "accept":
      if (c.acceptBy !== undefined && !c.closeDelivered) c.acceptBy.onAccept(c);
      c.acceptBy = undefined;
      return;
    case "close":
      if (c.closeDelivered) return;
      c.closeDelivered = true;
      h.close?.(err);
      return;
  }
  if (ev === "readable") c.readableQueued = false;
  if (c.closeDelivered) return;
  if (ev === "connected") h.connected?.();
  else if (ev === "readable") {
    if (c.readableLength > 0) h.readable?.();
  } else if (ev === "writable") h.writable?.();
  else if (ev === "end") h.end?.();
}
