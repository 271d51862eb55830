/**
 * A plain gRPC client for the discovery API, built only from proto/cluster.proto with
 * @grpc/grpc-js + @grpc/proto-loader: no wirespan mesh code, so the tests see the service as a
 * Talos node would.
 */
import { fileURLToPath } from "node:url";
import {
  type ChannelCredentials,
  type Client,
  type ClientReadableStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const PROTO = fileURLToPath(new URL("../src/discovery/proto/cluster.proto", import.meta.url));

export type Message = Record<string, unknown>;
export interface WatchMessage {
  affiliates?: { id?: string; data?: Buffer; endpoints?: Buffer[] }[];
  deleted?: boolean;
}

const definition = loadSync(PROTO, { keepCase: true, longs: String, defaults: false });
const sidero = loadPackageDefinition(definition).sidero as GrpcObject;
const Cluster = ((sidero.discovery as GrpcObject).server as GrpcObject)
  .Cluster as ServiceClientConstructor;

export type ClusterClient = Client & Record<string, (...args: unknown[]) => unknown>;

/** Each client gets its own connection (grpc-js otherwise shares one per address). */
export function clusterClient(address: string, creds?: ChannelCredentials): ClusterClient {
  return new Cluster(address, creds ?? credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  }) as unknown as ClusterClient;
}

export function unary<T = Message>(
  client: ClusterClient,
  method: "Hello" | "AffiliateUpdate" | "AffiliateDelete" | "List",
  request: Message,
  metadata = new Metadata(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](
      request,
      metadata,
      { deadline: Date.now() + 10_000 },
      (error: ServiceError | null, response: T) => (error ? reject(error) : resolve(response)),
    );
  });
}

/** The gRPC status code a call ended with (0 = OK). */
export async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 0;
  } catch (error) {
    return (error as ServiceError).code;
  }
}

/** A Watch stream with a pull interface: `next()` resolves with the next message. */
export class Watcher {
  readonly call: ClientReadableStream<WatchMessage>;
  private readonly buffered: WatchMessage[] = [];
  private waiting?: { resolve: (m: WatchMessage) => void; reject: (e: Error) => void };
  error?: ServiceError;
  readonly ended: Promise<ServiceError | undefined>;

  constructor(client: ClusterClient, clusterId: string) {
    this.call = client.Watch({ cluster_id: clusterId }) as ClientReadableStream<WatchMessage>;
    this.call.on("data", (message: WatchMessage) => {
      if (this.waiting) {
        this.waiting.resolve(message);
        this.waiting = undefined;
      } else this.buffered.push(message);
    });
    this.ended = new Promise((resolve) => {
      this.call.on("error", (error: ServiceError) => {
        this.error = error;
        this.waiting?.reject(error);
        resolve(error);
      });
      this.call.on("end", () => resolve(undefined));
    });
  }

  next(timeoutMs = 5000): Promise<WatchMessage> {
    const message = this.buffered.shift();
    if (message) return Promise.resolve(message);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no watch message in time")), timeoutMs);
      this.waiting = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** No message arrives within `ms` (used to check that nothing was sent). */
  async quiet(ms: number): Promise<boolean> {
    if (this.buffered.length > 0) return false;
    await new Promise((r) => setTimeout(r, ms));
    return this.buffered.length === 0;
  }

  cancel(): void {
    this.call.cancel();
  }
}

export function ttl(seconds: number | string, nanos = 0): Message {
  return { seconds: String(seconds), nanos };
}
