import { status } from "@grpc/grpc-js";
import { type AffiliateMessage, encodeWatchResponse, type WatchResponse } from "./proto.js";
import type { AffiliateView, ClusterEvent, ClusterSubscriber } from "./registry.js";

/** The part of a grpc-js server stream a watcher writes to. */
export interface WatchSink {
  /**
   * A response, or one already encoded (proto.ts `clusterServiceDefinition`); `done` runs once
   * the transport took it (HTTP/2 flow control permitting).
   */
  write(message: WatchResponse | Buffer, done: (error?: Error | null) => void): boolean;
  emit(event: "error", error: { code: status; details: string }): boolean;
  end(): void;
}

/**
 * One Watch stream (kubespan.md §1.5): the snapshot first, then one message per change. Changes
 * wait in a bounded queue while the transport is backed up (HTTP/2 flow control); a watcher whose
 * queue overflows has lost an update and is ended with ABORTED, so it re-watches and treats the
 * next first message as a full snapshot.
 *
 * A change is encoded once for all watchers of the cluster ({@link encodedChange}): a watcher
 * queues a reference to the shared bytes, not a message object and its own encoding.
 */
export class WatchStream implements ClusterSubscriber {
  private readonly queue: (WatchResponse | Buffer)[] = [];
  private inFlight = false;
  private closed = false;

  constructor(
    private readonly sink: WatchSink,
    private readonly queueMax: number,
    private readonly onClose: (aborted: boolean) => void,
  ) {}

  start(snapshot: AffiliateView[]): void {
    this.queue.push({ affiliates: snapshot.map(toMessage), deleted: false });
    this.pump();
  }

  notify(event: ClusterEvent): void {
    if (this.closed) return;
    this.queue.push(encodedChange(event));
    if (this.queue.length > this.queueMax) {
      this.end(status.ABORTED, "subscription canceled: lost update", true);
      return;
    }
    this.pump();
  }

  /** The client went away. */
  cancel(): void {
    this.close(false);
  }

  /** Finish the stream with a status; messages already handed to the transport still arrive. */
  end(code: status, details: string, aborted = false): void {
    if (this.closed) return;
    this.close(aborted);
    this.sink.emit("error", { code, details });
  }

  get pending(): number {
    return this.queue.length;
  }

  private pump(): void {
    if (this.inFlight || this.closed || this.queue.length === 0) return;
    this.inFlight = true;
    this.sink.write(this.queue.shift()!, () => {
      this.inFlight = false;
      this.pump();
    });
  }

  private close(aborted: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.onClose(aborted);
  }
}

/** The event's Watch message, encoded on first use and shared by every watcher (weakly cached). */
const encoded = new WeakMap<ClusterEvent, Buffer>();
function encodedChange(event: ClusterEvent): Buffer {
  let bytes = encoded.get(event);
  if (bytes === undefined) {
    bytes = encodeWatchResponse(
      event.kind === "delete"
        ? { affiliates: [{ id: event.id }], deleted: true }
        : { affiliates: [toMessage(event.affiliate)], deleted: false },
    );
    encoded.set(event, bytes);
  }
  return bytes;
}

function toMessage(affiliate: AffiliateView): AffiliateMessage {
  return { id: affiliate.id, data: affiliate.data, endpoints: affiliate.endpoints };
}
