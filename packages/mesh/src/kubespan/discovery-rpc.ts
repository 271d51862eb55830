/**
 * The gRPC side of the discovery client: the `sidero.discovery.server.Cluster` stub
 * (reference/kubespan.md §1.1, §1.2), a channel to the service, and unary calls as promises
 * with a deadline.
 */
import {
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  credentials,
  type Client as GrpcClient,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import type {
  AffiliateDeleteRequest,
  AffiliateUpdateRequest,
  HelloRequest,
  HelloResponse,
  ListRequest,
  ListResponse,
  WatchRequest,
  WatchResponse,
} from "../discovery/proto.js";
import { loadClusterPackage } from "../discovery/proto.js";
import type { DiscoveryTarget } from "./discovery-endpoint.js";

export interface ClusterClient extends GrpcClient {
  Hello(
    req: HelloRequest,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: HelloResponse) => void,
  ): ClientUnaryCall;
  AffiliateUpdate(
    req: AffiliateUpdateRequest,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: object) => void,
  ): ClientUnaryCall;
  AffiliateDelete(
    req: AffiliateDeleteRequest,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: object) => void,
  ): ClientUnaryCall;
  List(
    req: ListRequest,
    options: CallOptions,
    cb: (err: ServiceError | null, res?: ListResponse) => void,
  ): ClientUnaryCall;
  Watch(req: WatchRequest, options?: CallOptions): ClientReadableStream<WatchResponse>;
}

function clusterClientConstructor(): ServiceClientConstructor {
  const sidero = loadClusterPackage().sidero as GrpcObject;
  const server = (sidero.discovery as GrpcObject).server as GrpcObject;
  return server.Cluster as ServiceClientConstructor;
}

/** A channel to the service; TLS with system roots for `https://` targets. */
export function connectCluster(target: DiscoveryTarget, ttlMs: number): ClusterClient {
  const Ctor = clusterClientConstructor();
  const creds = target.tls ? credentials.createSsl() : credentials.createInsecure();
  return new Ctor(target.target, creds, {
    // Talos: keepalive time = max(10 s, TTL/10) (§1.7).
    "grpc.keepalive_time_ms": Math.max(10_000, Math.floor(ttlMs / 10)),
  }) as unknown as ClusterClient;
}

/** One unary call with a deadline `timeoutMs` from now. */
export function unary<Req, Res>(
  client: ClusterClient,
  method: "Hello" | "AffiliateUpdate" | "AffiliateDelete" | "List",
  req: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as unknown as (
      r: Req,
      o: CallOptions,
      cb: (err: ServiceError | null, res?: Res) => void,
    ) => ClientUnaryCall;
    // grpc-js deadlines are wall-clock Dates by API; the span is what matters here.
    fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(err);
      else resolve(res as Res);
    });
  });
}
