/**
 * One Watch stream of the discovery client (reference/kubespan.md §1.5): tells its owner each
 * message (and whether it is the snapshot that opens the stream) and, once, that the stream
 * ended. A cancelled stream reports nothing more.
 */
import { type ClientReadableStream, type ServiceError, status } from "@grpc/grpc-js";
import type { WatchResponse } from "../discovery/proto.js";
import type { ClusterClient } from "./discovery-rpc.js";

export interface WatchHandlers {
  message(msg: WatchResponse, snapshot: boolean): void;
  /** The stream ended or failed (why: a short text for the log). */
  failed(why: string): void;
}

export class WatchStream {
  private stream: ClientReadableStream<WatchResponse> | null;

  constructor(client: ClusterClient, clusterId: string, handlers: WatchHandlers) {
    const stream = client.Watch({ cluster_id: clusterId });
    this.stream = stream;
    let snapshot = true;
    stream.on("data", (msg: WatchResponse) => {
      if (this.stream !== stream) return;
      const first = snapshot;
      snapshot = false;
      handlers.message(msg, first);
    });
    const fail = (why: string) => {
      if (this.stream === stream) handlers.failed(why);
    };
    stream.on("error", (err: ServiceError) => {
      fail(err.code === status.CANCELLED ? "cancelled" : err.message);
    });
    stream.on("end", () => fail("stream closed by the service"));
  }

  /** Ends the stream; no handler is called after this. */
  cancel(): void {
    const w = this.stream;
    this.stream = null;
    if (w) {
      w.removeAllListeners();
      w.on("error", () => {}); // the CANCELLED status arrives after cancel()
      w.cancel();
    }
  }
}
