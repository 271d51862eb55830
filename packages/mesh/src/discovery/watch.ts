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

/** What a watcher reports to the service's counters. */
export interface WatchCounters {
  /** A change replaced an older one of the same affiliate still waiting for this watcher. */
  coalesced(): void;
}

/**
 * One Watch stream (kubespan.md §1.5): the snapshot first, then one message per affiliate change.
 * Changes wait while the transport is backed up (HTTP/2 flow control), and the transport is
 * handed one message at a time, so whatever waits is ours to manage.
 *
 * Unlike the reference, which buffers 32 notifications and then ends a slow watcher with ABORTED
 * (it must re-watch and fetch a whole snapshot), the waiting changes are kept per affiliate: a
 * newer change of an affiliate replaces the older one in place. Every message carries the whole
 * record of one affiliate, or its deletion, so a client that applies messages in order still ends
 * up with the service's state — it just skips intermediate versions it would have overwritten
 * anyway. A slow watcher therefore costs at most one queued reference per affiliate of its
 * cluster, not one per change. Only when more distinct affiliates wait than `pendingMax` (a churn
 * of short-lived IDs) is it aborted as before and re-watches.
 *
 * A change is encoded once for all watchers of the cluster ({@link encodedChange}) and a snapshot
 * is the concatenation of those encodings ({@link encodedSnapshot}): a watcher holds references to
 * shared bytes, never message objects or encodings of its own.
 */
export class WatchStream implements ClusterSubscriber {
  /** Affiliate ID → the latest encoded change not yet handed to the transport (insertion order). */
  private readonly pending = new Map<string, Buffer>();
  private inFlight = false;
  private closed = false;

  constructor(
    private readonly sink: WatchSink,
    private readonly pendingMax: number,
    private readonly onClose: (aborted: boolean) => void,
    private readonly counters?: WatchCounters,
  ) {}

  start(snapshot: readonly AffiliateView[]): void {
    if (this.closed) return;
    this.inFlight = true;
    this.sink.write(encodedSnapshot(snapshot), this.written);
  }

  notify(event: ClusterEvent): void {
    if (this.closed) return;
    const id = event.kind === "delete" ? event.id : event.affiliate.id;
    const bytes = encodedChange(event);
    if (this.pending.has(id)) this.counters?.coalesced();
    else if (this.pending.size >= this.pendingMax) {
      this.end(status.ABORTED, "subscription canceled: lost update", true);
      return;
    }
    this.pending.set(id, bytes);
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

  private readonly written = (): void => {
    this.inFlight = false;
    this.pump();
  };

  private pump(): void {
    if (this.inFlight || this.closed || this.pending.size === 0) return;
    const [id, bytes] = this.pending.entries().next().value as [string, Buffer];
    this.pending.delete(id);
    this.inFlight = true;
    this.sink.write(bytes, this.written);
  }

  private close(aborted: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.clear();
    this.onClose(aborted);
  }
}

/**
 * The event's Watch message, encoded on first use and shared by every watcher: an update's by its
 * (immutable, per-version) view, so snapshots reuse it too; a deletion's by the event.
 */
const encoded = new WeakMap<object, Buffer>();
function encodedChange(event: ClusterEvent): Buffer {
  if (event.kind === "update") return encodedAffiliate(event.affiliate);
  let bytes = encoded.get(event);
  if (bytes === undefined) {
    bytes = encodeWatchResponse({ affiliates: [{ id: event.id }], deleted: true });
    encoded.set(event, bytes);
  }
  return bytes;
}

/**
 * `WatchResponse{affiliates: [affiliate]}`. `deleted` is left out (proto3 default false), so the
 * bytes are exactly one length-delimited field 1 — which is what lets snapshots concatenate them.
 */
function encodedAffiliate(affiliate: AffiliateView): Buffer {
  let bytes = encoded.get(affiliate);
  if (bytes === undefined) {
    bytes = encodeWatchResponse({ affiliates: [toMessage(affiliate)] });
    encoded.set(affiliate, bytes);
  }
  return bytes;
}

/**
 * The snapshot message: protobuf concatenates repeated fields of concatenated messages (the
 * encoding guide, "Last One Wins" / repeated elements are appended), so the encodings of
 * single-affiliate responses laid end to end are the response listing all of them.
 */
export function encodedSnapshot(affiliates: readonly AffiliateView[]): Buffer {
  return Buffer.concat(affiliates.map(encodedAffiliate));
}

function toMessage(affiliate: AffiliateView): AffiliateMessage {
  return { id: affiliate.id, data: affiliate.data, endpoints: affiliate.endpoints };
}
