import type { Server as HttpServer } from "node:http";
import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  type ServiceError,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { encodeAddress, forwardedAddress, peerAddress } from "./client-ip.js";
import { type DiscoveryLimits, resolveLimits } from "./limits.js";
import { formatHostPort, parseListenAddress } from "./listen-address.js";
import {
  countHello,
  countInto,
  type DiscoveryCounters,
  type DiscoveryMetrics,
  newCounters,
  serveMetrics,
} from "./metrics.js";
import {
  type AffiliateDeleteRequest,
  type AffiliateUpdateRequest,
  clusterServiceDefinition,
  type HelloRequest,
  type HelloResponse,
  type ListRequest,
  type ListResponse,
  type WatchRequest,
  type WatchResponse,
} from "./proto.js";
import { RateLimiter } from "./ratelimit.js";
import { Refusal, resourceExhausted } from "./refusal.js";
import { Registry } from "./registry.js";
import { readSnapshot, writeSnapshot } from "./snapshot.js";
import { durationToMs, validateClusterId } from "./validate.js";
import { WatchStream } from "./watch.js";

export interface DiscoveryServerOptions {
  /** gRPC listen address: "HOST:PORT", "[V6]:PORT", ":PORT"; port 0 picks a free one. */
  listen: string;
  /** Serve TLS with this PEM certificate chain and key; plaintext gRPC otherwise. */
  tls?: { cert: Buffer; key: Buffer };
  /** Keep the registry across restarts in this file (loaded at start, written atomically). */
  snapshotFile?: string;
  /** How often the snapshot is written (default 10 min, the reference's interval). */
  snapshotIntervalMs?: number;
  /** Take client_ip from X-Real-IP / X-Forwarded-For metadata (only behind a trusted proxy). */
  trustForwardedFor?: boolean;
  /** Answer every Hello with this redirect endpoint (host:port), like `-redirect-endpoint`. */
  redirectEndpoint?: string;
  /** Also serve Prometheus metrics at http://HOST:PORT/metrics. */
  metricsListen?: string;
  limits?: Partial<DiscoveryLimits>;
  /** Periodic garbage collection interval (default 1 min, the reference's `-gc-interval`). */
  gcIntervalMs?: number;
  /** Clock in ms since the epoch (tests inject a fake one). */
  now?: () => number;
  /** Operational messages (never secrets; the service holds none in the clear). */
  log?: (message: string) => void;
}

const DEFAULT_SNAPSHOT_INTERVAL_MS = 10 * 60 * 1000;
const DEFAULT_GC_INTERVAL_MS = 60 * 1000;
const SHUTDOWN_GRACE_MS = 2000;

type Call = { getPeer(): string; metadata: Metadata };

/**
 * The discovery service `sidero.discovery.server.Cluster` (kubespan.md §1), written from the
 * published API and behaviour. It stores and relays encrypted blobs; it never parses them.
 */
export class DiscoveryServer {
  private readonly counters: DiscoveryCounters = newCounters();
  private readonly watchers = new Set<WatchStream>();
  /**
   * Watch calls not yet finished at the transport. An aborted watcher that does not read keeps
   * its already-written messages buffered until its connection drains or dies, so it keeps
   * counting against `watchersMax` until then: aborting cannot be used to pile up buffers.
   */
  private readonly watchCalls = new Set<object>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly watchCounters = { coalesced: () => void this.counters.watchCoalesced++ };
  private snapshotChain: Promise<void> = Promise.resolve();
  private metricsServer?: HttpServer;
  private metricsBound?: string;
  private boundAddress = "";
  private closing?: Promise<void>;

  private constructor(
    private readonly options: DiscoveryServerOptions,
    private readonly limits: DiscoveryLimits,
    private readonly registry: Registry,
    private readonly rateLimiter: RateLimiter,
    private readonly grpcServer: Server,
  ) {}

  /** The gRPC address actually bound, host:port ([v6]:port). */
  get address(): string {
    return this.boundAddress;
  }

  /** Where /metrics is served, when `metricsListen` was given. */
  get metricsAddress(): string | undefined {
    return this.metricsBound;
  }

  static async start(options: DiscoveryServerOptions): Promise<DiscoveryServer> {
    const limits = resolveLimits(options.limits);
    const now = options.now ?? Date.now;
    const log = options.log ?? (() => {});
    const { host, port } = parseListenAddress(options.listen);
    const metricsAt = options.metricsListen ? parseListenAddress(options.metricsListen) : undefined;
    const registry = new Registry(limits, now);
    let snapshotErrors = 0;
    if (options.snapshotFile) {
      try {
        const state = await readSnapshot(options.snapshotFile);
        if (state) {
          const loaded = registry.importState(state);
          log(
            `discovery snapshot loaded: ${loaded.affiliates} affiliates, ${loaded.skipped} skipped`,
          );
        }
      } catch (error) {
        snapshotErrors++;
        log(`discovery snapshot not loaded, starting empty: ${(error as Error).message}`);
      }
    }
    const rateLimiter = new RateLimiter(
      limits.rateLimitPerSecond,
      limits.rateLimitBurst,
      limits.rateLimitMaxWaitMs,
      now,
    );
    const grpcServer = new Server({
      "grpc.max_receive_message_length": limits.requestBytesMax,
      // Server pings notice dead peers, so watchers of vanished clients are released.
      "grpc.keepalive_time_ms": 60_000,
      "grpc.keepalive_timeout_ms": 20_000,
      // channelz (grpc-js's introspection service, which wirespan does not serve) keeps a
      // registered socket, call tracker and trace per connection: per-watcher memory for nothing.
      "grpc.enable_channelz": 0,
    });
    const credentials = options.tls
      ? ServerCredentials.createSsl(
          null,
          [{ cert_chain: options.tls.cert, private_key: options.tls.key }],
          false,
        )
      : ServerCredentials.createInsecure();
    const server = new DiscoveryServer(options, limits, registry, rateLimiter, grpcServer);
    server.counters.snapshotErrors = snapshotErrors;
    // Handlers go in before binding, so no early call can find the service missing.
    grpcServer.addService(clusterServiceDefinition(), server.implementation());
    const bound = await new Promise<number>((resolve, reject) => {
      grpcServer.bindAsync(formatHostPort(host, port), credentials, (error, actual) =>
        error
          ? reject(
              new Error(`discovery service cannot listen on ${options.listen}: ${error.message}`),
            )
          : resolve(actual),
      );
    });
    server.boundAddress = formatHostPort(host, bound);
    if (metricsAt) {
      try {
        const served = await serveMetrics(metricsAt.host, metricsAt.port, () => server.metrics());
        server.metricsServer = served.server;
        server.metricsBound = served.address;
      } catch (error) {
        grpcServer.forceShutdown();
        throw new Error(
          `metrics cannot listen on ${options.metricsListen}: ${(error as Error).message}`,
        );
      }
    }
    server.every(options.gcIntervalMs ?? DEFAULT_GC_INTERVAL_MS, () => {
      registry.gc();
      rateLimiter.gc();
    });
    if (options.snapshotFile) {
      server.every(options.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS, () => {
        void server.saveSnapshot();
      });
    }
    return server;
  }

  metrics(): DiscoveryMetrics {
    return {
      ...this.registry.stats(),
      ...structuredClone(this.counters),
      watchStreams: this.watchCalls.size,
      expiredAffiliates: this.registry.expired.affiliates,
      expiredEndpoints: this.registry.expired.endpoints,
    };
  }

  /** Run garbage collection now (also runs every `gcIntervalMs`). */
  gc(): void {
    this.registry.gc();
    this.rateLimiter.gc();
  }

  /** Write the snapshot now (also runs periodically and on close); failures are counted, logged. */
  saveSnapshot(): Promise<void> {
    const file = this.options.snapshotFile;
    if (!file) return Promise.resolve();
    this.snapshotChain = this.snapshotChain.then(async () => {
      try {
        await writeSnapshot(file, this.registry.exportState());
        this.counters.snapshotsWritten++;
      } catch (error) {
        this.counters.snapshotErrors++;
        this.log(`discovery snapshot write failed: ${(error as Error).message}`);
      }
    });
    return this.snapshotChain;
  }

  /** Stop serving: watchers are ended with UNAVAILABLE (clients re-watch elsewhere), snapshot saved. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const watcher of [...this.watchers])
      watcher.end(status.UNAVAILABLE, "discovery service is shutting down");
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    if (this.metricsServer) {
      const metrics = this.metricsServer;
      await new Promise<void>((resolve) => metrics.close(() => resolve()));
      metrics.closeAllConnections();
    }
    await this.saveSnapshot();
  }

  private every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private log(message: string): void {
    this.options.log?.(message);
  }

  private implementation(): UntypedServiceImplementation {
    const hello: handleUnaryCall<HelloRequest, HelloResponse> = this.unary("Hello", (req, ip) => {
      validateClusterId(req.cluster_id, this.limits);
      countHello(this.counters, req.client_version);
      const response: HelloResponse = { client_ip: encodeAddress(ip) };
      if (this.options.redirectEndpoint)
        response.redirect = { endpoint: this.options.redirectEndpoint };
      return response;
    });
    const affiliateUpdate: handleUnaryCall<AffiliateUpdateRequest, object> = this.unary(
      "AffiliateUpdate",
      (req) => {
        this.registry.update({
          clusterId: req.cluster_id ?? "",
          affiliateId: req.affiliate_id ?? "",
          data: req.affiliate_data,
          endpoints: req.affiliate_endpoints ?? [],
          ttlMs: durationToMs(req.ttl),
        });
        return {};
      },
    );
    const affiliateDelete: handleUnaryCall<AffiliateDeleteRequest, object> = this.unary(
      "AffiliateDelete",
      (req) => {
        this.registry.delete(req.cluster_id ?? "", req.affiliate_id ?? "");
        return {};
      },
    );
    const list: handleUnaryCall<ListRequest, ListResponse> = this.unary("List", (req) => ({
      affiliates: this.registry.list(req.cluster_id ?? ""),
    }));
    const watch: handleServerStreamingCall<WatchRequest, WatchResponse> = (call) => {
      this.admit(call)
        .then(() => this.startWatch(call))
        .catch((error) => {
          this.refuse(error);
          call.emit("error", toServiceError(error));
        });
    };
    return {
      Hello: hello,
      AffiliateUpdate: affiliateUpdate,
      AffiliateDelete: affiliateDelete,
      List: list,
      Watch: watch,
    };
  }

  private startWatch(call: ServerWritableStream<WatchRequest, WatchResponse>): void {
    if (call.cancelled) return;
    const clusterId = validateClusterId(call.request.cluster_id, this.limits);
    if (this.watchCalls.size >= this.limits.watchersMax)
      throw resourceExhausted("too many watchers");
    let unsubscribe = () => {};
    const stream = new WatchStream(
      call,
      this.limits.watchPendingMax,
      (aborted) => {
        unsubscribe();
        this.watchers.delete(stream);
        if (aborted) this.counters.watchersAborted++;
      },
      this.watchCounters,
    );
    const subscription = this.registry.subscribe(clusterId, stream);
    unsubscribe = subscription.unsubscribe;
    this.watchers.add(stream);
    this.watchCalls.add(call);
    countInto(this.counters.requests, "Watch");
    const finished = () => {
      this.watchCalls.delete(call);
      stream.cancel();
    };
    call.on("cancelled", finished);
    call.on("close", finished);
    stream.start(subscription.snapshot);
  }

  private unary<Req, Res>(
    method: string,
    handle: (request: Req, clientIp: string | undefined) => Res,
  ): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      this.admit(call)
        .then((ip) => {
          const response = handle(call.request, ip);
          countInto(this.counters.requests, method);
          callback(null, response);
        })
        .catch((error) => {
          this.refuse(error);
          callback(toServiceError(error));
        });
    };
  }

  /** Resolve the caller's IP and apply the per-IP rate limit (§1.3), waiting briefly if allowed. */
  private async admit(call: Call): Promise<string | undefined> {
    const ip = this.clientAddress(call);
    const wait = this.rateLimiter.reserve(ip ?? "unknown");
    if (wait === undefined) throw resourceExhausted("rate limit exceeded");
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return ip;
  }

  private clientAddress(call: Call): string | undefined {
    if (this.options.trustForwardedFor) {
      const first = (key: string) => {
        const value = call.metadata.get(key)[0];
        return typeof value === "string" ? value : undefined;
      };
      const forwarded = forwardedAddress(first("x-real-ip"), first("x-forwarded-for"));
      if (forwarded) return forwarded;
    }
    return peerAddress(call.getPeer());
  }

  private refuse(error: unknown): void {
    const code = error instanceof Refusal ? error.code : status.INTERNAL;
    countInto(this.counters.refused, status[code] ?? String(code));
    if (!(error instanceof Refusal)) this.log(`discovery request failed: ${String(error)}`);
  }
}

function toServiceError(error: unknown): Partial<ServiceError> & { code: status; details: string } {
  if (error instanceof Refusal) return { code: error.code, details: error.message };
  return { code: status.INTERNAL, details: "internal error" };
}
