import { fileURLToPath } from "node:url";
import { type GrpcObject, loadPackageDefinition, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

/**
 * Loads proto/cluster.proto (the published `sidero.discovery.server` API, kubespan.md §1.2) and
 * types its messages as @grpc/proto-loader decodes them (keepCase, int64 as decimal strings,
 * bytes as Buffer, absent fields undefined).
 */

export const CLUSTER_PROTO_PATH = fileURLToPath(new URL("./proto/cluster.proto", import.meta.url));
export const CLUSTER_SERVICE_NAME = "sidero.discovery.server.Cluster";

export interface AffiliateMessage {
  id?: string;
  data?: Uint8Array;
  endpoints?: readonly Uint8Array[];
}

export interface HelloRequest {
  cluster_id?: string;
  client_version?: string;
}

export interface HelloResponse {
  redirect?: { endpoint?: string } | null;
  client_ip?: Uint8Array;
}

export interface DurationMessage {
  seconds?: string | number;
  nanos?: number;
}

export interface AffiliateUpdateRequest {
  cluster_id?: string;
  affiliate_id?: string;
  affiliate_data?: Uint8Array;
  affiliate_endpoints?: Uint8Array[];
  ttl?: DurationMessage | null;
}

export interface AffiliateDeleteRequest {
  cluster_id?: string;
  affiliate_id?: string;
}

export interface ListRequest {
  cluster_id?: string;
}

export interface ListResponse {
  affiliates?: AffiliateMessage[];
}

export interface WatchRequest {
  cluster_id?: string;
}

export interface WatchResponse {
  affiliates?: AffiliateMessage[];
  deleted?: boolean;
}

export const PROTO_LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
} as const;

let cached: GrpcObject | undefined;

/** The loaded `sidero.discovery.server` package (service constructor under `.Cluster`). */
export function loadClusterPackage(): GrpcObject {
  if (!cached) {
    const definition = loadSync(CLUSTER_PROTO_PATH, PROTO_LOADER_OPTIONS);
    cached = loadPackageDefinition(definition);
  }
  return cached;
}

function loadedServiceDefinition(): ServiceDefinition {
  const sidero = loadClusterPackage().sidero as GrpcObject;
  const server = (sidero.discovery as GrpcObject).server as GrpcObject;
  return (server.Cluster as unknown as { service: ServiceDefinition }).service;
}

/** A WatchResponse as protobuf bytes (what {@link clusterServiceDefinition}'s Watch sends). */
export function encodeWatchResponse(message: WatchResponse): Buffer {
  return loadedServiceDefinition().Watch.responseSerialize(message);
}

let serviceDefinition: ServiceDefinition | undefined;

/**
 * The service definition the server registers. Its Watch writes also accept a response already
 * encoded with {@link encodeWatchResponse}: one change goes to every watcher of a cluster, and
 * encoding it once instead of once per watcher keeps the cost of a watcher to a reference.
 */
export function clusterServiceDefinition(): ServiceDefinition {
  if (!serviceDefinition) {
    const loaded = loadedServiceDefinition();
    const watch = loaded.Watch;
    serviceDefinition = {
      ...loaded,
      Watch: {
        ...watch,
        responseSerialize: (value: WatchResponse | Buffer) =>
          Buffer.isBuffer(value) ? value : watch.responseSerialize(value),
      },
    };
  }
  return serviceDefinition;
}
