/**
 * Client of the Sidero discovery service, wire compatible with Talos's (reference/kubespan.md
 * §1.7): Hello (learns this node's public IP, follows redirects) → Watch (snapshot, then one
 * change per message) → AffiliateUpdate of the local affiliate (TTL 30 min, refreshed at TTL/2
 * and on change) → AffiliateDelete on shutdown. Reconnects with capped exponential backoff.
 * Everything sent is encrypted with the cluster secret (§2.2, §2.3); the service sees blobs.
 */
import { EventEmitter } from "node:events";
import {
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  credentials,
  type Client as GrpcClient,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { formatIp, parseIp } from "@wirespan/noise";
import type {
  AffiliateDeleteRequest,
  AffiliateMessage,
  AffiliateUpdateRequest,
  HelloRequest,
  HelloResponse,
  ListRequest,
  ListResponse,
  WatchRequest,
  WatchResponse,
} from "../discovery/proto.js";
import { loadClusterPackage } from "../discovery/proto.js";
import {
  type AffiliateData,
  type DiscoveredAffiliate,
  decodeAffiliateData,
  decodeEndpoint,
  encodeAffiliateData,
  encodeEndpoint,
} from "./affiliate.js";
import { DiscoveryTtlMs } from "./constants.js";
import {
  clusterSecretKey,
  openAffiliateData,
  openEndpoint,
  sealAffiliateData,
  sealEndpoint,
} from "./discovery-crypto.js";
import { parseDiscoveryEndpoint } from "./discovery-endpoint.js";
import { filterIps } from "./endpoints.js";
import { canonicalIpPort, formatIpPort } from "./ip-port.js";

/** Hello deadline (§1.7). */
const HelloTimeoutMs = 10_000;
/** AffiliateUpdate deadline for all updates of one refresh (§1.7). */
const UpdateTimeoutMs = 30_000;
/** Deadline of the best-effort AffiliateDelete when stopping. */
const DeleteTimeoutMs = 5_000;

export interface BackoffOptions {
  /** First retry delay (cenkalti/backoff default 500 ms). */
  readonly initialMs: number;
  /** Growth per failure (cenkalti default 1.5). */
  readonly multiplier: number;
  /** Cap on one delay. */
  readonly maxMs: number;
  /** Randomisation factor: the delay is drawn from ±jitter around the nominal value (0.5). */
  readonly jitter: number;
}

export const DefaultBackoff: BackoffOptions = {
  initialMs: 500,
  multiplier: 1.5,
  maxMs: 30_000,
  jitter: 0.5,
};

/** The nominal delay after `previousMs` (0 = first retry): exponential growth, capped. */
export function nextBackoffMs(previousMs: number, b: BackoffOptions): number {
  return previousMs === 0 ? b.initialMs : Math.min(b.maxMs, previousMs * b.multiplier);
}

/** A delay drawn uniformly from nominal·(1 ± jitter), like cenkalti/backoff's randomisation. */
export function jitteredMs(nominalMs: number, jitter: number, random = Math.random): number {
  const spread = nominalMs * jitter;
  return Math.max(0, nominalMs - spread + random() * 2 * spread);
}

export interface DiscoveryClientOptions {
  /** `http://host:port` (plain gRPC) or `https://host[:port]/` (TLS, system roots). */
  readonly endpoint: string;
  readonly clusterId: string;
  /** Base64 cluster secret: its 32 bytes are the AES-256 key (§2.1). */
  readonly clusterSecret: string;
  /** This node's affiliate ID (= node ID). */
  readonly affiliateId: string;
  /** Mesh listen port: the Hello `client_ip` is published as `client_ip:port` (§1.6). */
  readonly port: number;
  /** Endpoint filter rules applied to the learned public IP (§4.3); default: publish it. */
  readonly publicIpFilters?: readonly string[];
  /**
   * Append `client_ip:port` to the published endpoints (default true, for standalone use).
   * The mesh controller sets false and places the public IP itself where §4.3 puts it: after
   * the node addresses, before the filters and before the extra announced endpoints
   * (endpoints.ts `advertisedEndpoints`, fed from {@link DiscoveryClient.publicIp}).
   */
  readonly appendClientIp?: boolean;
  /** Sent as `client_version`. */
  readonly clientVersion?: string;
  /** Affiliate TTL (default 30 min, the discovery service maximum). */
  readonly ttlMs?: number;
  readonly backoff?: Partial<BackoffOptions>;
  /** Operational messages; never carries secrets or plaintext affiliate data. */
  readonly log?: (message: string) => void;
}

/** Counters of what the client dropped or did (network input is counted, never thrown). */
export interface DiscoveryClientStats {
  hellos: number;
  redirects: number;
  updatesSent: number;
  watchMessages: number;
  reconnects: number;
  droppedShortData: number;
  droppedDecryptFailures: number;
  droppedDecodeFailures: number;
  droppedEndpoints: number;
}

interface ClusterClient extends GrpcClient {
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

function unary<Req, Res>(
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
    fn.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(err);
      else resolve(res as Res);
    });
  });
}

/** A one-shot wake-up: `wait(ms)` resolves on `notify()` or after `ms`. */
class Wakeup {
  private resolve: (() => void) | null = null;
  private pending = false;

  notify(): void {
    this.pending = true;
    const r = this.resolve;
    this.resolve = null;
    r?.();
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.resolve = null;
        resolve();
      }, ms);
      this.resolve = () => {
        clearTimeout(timer);
        this.pending = false;
        resolve();
      };
    });
  }
}

export interface DiscoveryClientEvents {
  /** All other affiliates, decrypted, after every watch message. */
  affiliates: [Map<string, DiscoveredAffiliate>];
  /** The public IP from Hello changed (IP text, or null when the service reports none). */
  publicIp: [string | null];
  /** Connection state: true after a successful Hello + Watch + update, false on failure. */
  connected: [boolean];
}

/**
 * The discovery client. Feed it the local affiliate with {@link setLocalData}; listen to
 * `affiliates` for everybody else. {@link start} runs the loop until {@link stop}.
 */
export class DiscoveryClient extends EventEmitter<DiscoveryClientEvents> {
  readonly stats: DiscoveryClientStats = {
    hellos: 0,
    redirects: 0,
    updatesSent: 0,
    watchMessages: 0,
    reconnects: 0,
    droppedShortData: 0,
    droppedDecryptFailures: 0,
    droppedDecodeFailures: 0,
    droppedEndpoints: 0,
  };

  private readonly key: Uint8Array;
  private readonly ttlMs: number;
  private readonly backoffOptions: BackoffOptions;
  private target: { target: string; tls: boolean };
  private client: ClusterClient | null = null;
  private watch: ClientReadableStream<WatchResponse> | null = null;
  private watchFailed = false;
  private readonly wakeup = new Wakeup();
  private running: Promise<void> | null = null;
  private stopping = false;
  private refreshDue = true;
  private backoffMs = 0;

  private localPlain: Uint8Array | null = null;
  private localSealed: Uint8Array | null = null;
  private localEndpoints: string[] = [];
  private otherEndpoints = new Map<string, string[]>();
  private discovered = new Map<string, DiscoveredAffiliate>();
  private clientIp: string | null = null;
  private isConnected = false;

  constructor(private readonly options: DiscoveryClientOptions) {
    super();
    this.key = clusterSecretKey(options.clusterSecret);
    this.target = parseDiscoveryEndpoint(options.endpoint);
    this.ttlMs = options.ttlMs ?? DiscoveryTtlMs;
    this.backoffOptions = { ...DefaultBackoff, ...options.backoff };
    if (!options.clusterId) throw new Error("discovery client needs a cluster ID");
    if (!options.affiliateId) throw new Error("discovery client needs an affiliate ID");
  }

  /** Affiliates other than this node, as last seen. */
  get affiliates(): Map<string, DiscoveredAffiliate> {
    return new Map(this.discovered);
  }

  /** This node's public IP as the service saw it on the last Hello (§1.6). */
  get publicIp(): string | null {
    return this.clientIp;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** The gRPC target in use (changes after a redirect). */
  get currentTarget(): string {
    return this.target.target;
  }

  /**
   * Sets what this node publishes: its affiliate data, its own endpoints and (when harvesting,
   * §4.5) endpoints observed for other affiliates. The data is re-encrypted and pushed only when
   * it actually changed, since every new nonce is a change for all watchers (§1.7).
   */
  setLocalData(
    data: AffiliateData,
    endpoints: readonly string[],
    otherEndpoints: ReadonlyMap<string, readonly string[]> = new Map(),
  ): void {
    const plain = encodeAffiliateData(data);
    const eps = [...new Set(endpoints.map(canonicalIpPort))];
    const others = new Map<string, string[]>();
    for (const [id, list] of otherEndpoints) {
      if (id !== this.options.affiliateId && list.length > 0) {
        others.set(id, [...new Set(list.map(canonicalIpPort))]);
      }
    }
    const same =
      this.localPlain !== null &&
      Buffer.from(plain).equals(Buffer.from(this.localPlain)) &&
      eps.join(",") === this.localEndpoints.join(",") &&
      JSON.stringify([...others]) === JSON.stringify([...this.otherEndpoints]);
    if (same) return;
    if (this.localPlain === null || !Buffer.from(plain).equals(Buffer.from(this.localPlain))) {
      this.localPlain = plain;
      this.localSealed = sealAffiliateData(this.key, plain);
    }
    this.localEndpoints = eps;
    this.otherEndpoints = others;
    this.refreshDue = true;
    this.wakeup.notify();
  }

  /** Starts the connection loop (idempotent). */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.run().catch((e) => this.log(`discovery client stopped: ${String(e)}`));
  }

  /**
   * Stops the loop. With `deleteAffiliate` (default true) the local affiliate is removed from the
   * service first (best effort, 5 s), so peers drop this node at once instead of at TTL expiry.
   */
  async stop(options: { deleteAffiliate?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.wakeup.notify();
    await this.running;
    this.running = null;
    if ((options.deleteAffiliate ?? true) && this.localPlain !== null) {
      const client = this.client ?? this.connect();
      try {
        await unary(
          client,
          "AffiliateDelete",
          { cluster_id: this.options.clusterId, affiliate_id: this.options.affiliateId },
          DeleteTimeoutMs,
        );
      } catch (e) {
        this.log(`discovery: affiliate delete failed: ${(e as Error).message}`);
      }
    }
    this.disconnect();
  }

  /** One-shot List of the cluster (§1.1), decrypted, without this node. Needs no running loop. */
  async list(timeoutMs = UpdateTimeoutMs): Promise<Map<string, DiscoveredAffiliate>> {
    const own = this.client === null;
    const client = this.client ?? this.connect(false);
    try {
      const res = await unary<ListRequest, ListResponse>(
        client,
        "List",
        { cluster_id: this.options.clusterId },
        timeoutMs,
      );
      const out = new Map<string, DiscoveredAffiliate>();
      for (const msg of res.affiliates ?? []) {
        const a = this.decodeAffiliate(msg);
        if (a) out.set(a.id, a);
      }
      return out;
    } finally {
      if (own) client.close();
    }
  }

  private log(message: string): void {
    this.options.log?.(message);
  }

  private connect(keep = true): ClusterClient {
    const Ctor = clusterClientConstructor();
    const creds = this.target.tls ? credentials.createSsl() : credentials.createInsecure();
    const client = new Ctor(this.target.target, creds, {
      // Talos: keepalive time = max(10 s, TTL/10) (§1.7).
      "grpc.keepalive_time_ms": Math.max(10_000, Math.floor(this.ttlMs / 10)),
    }) as unknown as ClusterClient;
    if (keep) this.client = client;
    return client;
  }

  private disconnect(): void {
    this.cancelWatch();
    this.client?.close();
    this.client = null;
    this.setConnected(false);
  }

  private cancelWatch(): void {
    const w = this.watch;
    this.watch = null;
    if (w) {
      w.removeAllListeners();
      w.on("error", () => {}); // the CANCELLED status arrives after cancel()
      w.cancel();
    }
  }

  private setConnected(value: boolean): void {
    if (this.isConnected === value) return;
    this.isConnected = value;
    this.emit("connected", value);
  }

  private nextBackoff(): number {
    this.backoffMs = nextBackoffMs(this.backoffMs, this.backoffOptions);
    return jitteredMs(this.backoffMs, this.backoffOptions.jitter);
  }

  private async run(): Promise<void> {
    let firstAttempt = true;
    while (!this.stopping) {
      if (this.watch === null) {
        if (!firstAttempt) {
          this.stats.reconnects++;
          await this.wakeup.wait(this.nextBackoff());
          if (this.stopping) break;
        }
        firstAttempt = false;
        if (!(await this.establish())) continue;
      }
      if (this.refreshDue) {
        try {
          await this.refresh();
          this.refreshDue = false;
          this.backoffMs = 0;
          this.setConnected(true);
        } catch (e) {
          this.log(`discovery: update failed: ${(e as Error).message}`);
          this.cancelWatch();
          this.setConnected(false);
          continue;
        }
      }
      // Sleep until TTL/2 (refresh), a local change, a watch failure or stop.
      const before = Date.now();
      await this.wakeup.wait(this.ttlMs / 2);
      if (Date.now() - before >= this.ttlMs / 2) this.refreshDue = true;
      if (this.watchFailed) {
        this.watchFailed = false;
        this.cancelWatch();
        this.setConnected(false);
        // The server may have lost our record (restart): push it again on reconnect.
        this.refreshDue = true;
      }
    }
  }

  /** Hello (with redirect) then Watch. False when the attempt failed; the caller backs off. */
  private async establish(): Promise<boolean> {
    const client = this.client ?? this.connect();
    let res: HelloResponse;
    try {
      this.stats.hellos++;
      res = await unary<HelloRequest, HelloResponse>(
        client,
        "Hello",
        { cluster_id: this.options.clusterId, client_version: this.options.clientVersion ?? "" },
        HelloTimeoutMs,
      );
    } catch (e) {
      this.log(`discovery: hello to ${this.target.target} failed: ${(e as Error).message}`);
      // Close the channel so the next attempt dials afresh (§1.7).
      this.disconnect();
      return false;
    }
    if (this.stopping) return false;
    this.updateClientIp(res.client_ip);
    const redirect = res.redirect?.endpoint;
    if (redirect) {
      this.stats.redirects++;
      this.log(`discovery: redirected to ${redirect}`);
      this.disconnect();
      this.target = { target: redirect, tls: this.target.tls };
      this.backoffMs = 0;
      return false;
    }
    this.startWatch(client);
    this.refreshDue = true;
    return true;
  }

  private updateClientIp(bytes: Uint8Array | undefined): void {
    let ip: string | null = null;
    if (bytes && (bytes.length === 4 || bytes.length === 16)) {
      // A dual-stack service may report an IPv4 peer as ::ffff:a.b.c.d; publish it as IPv4.
      const mapped =
        bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff;
      ip = formatIp(mapped && bytes[11] === 0xff ? bytes.subarray(12) : bytes);
    }
    if (ip === this.clientIp) return;
    this.clientIp = ip;
    this.refreshDue = true;
    this.emit("publicIp", ip);
  }

  private startWatch(client: ClusterClient): void {
    this.watchFailed = false;
    const stream = client.Watch({ cluster_id: this.options.clusterId });
    let snapshot = true;
    this.watch = stream;
    const fail = (why: string) => {
      if (this.watch !== stream) return;
      this.log(`discovery: watch ended: ${why}`);
      this.watchFailed = true;
      this.wakeup.notify();
    };
    stream.on("data", (msg: WatchResponse) => {
      if (this.watch !== stream) return;
      this.stats.watchMessages++;
      this.applyWatch(msg, snapshot);
      snapshot = false;
      this.emit("affiliates", this.affiliates);
    });
    stream.on("error", (err: ServiceError) => {
      fail(err.code === status.CANCELLED ? "cancelled" : err.message);
    });
    stream.on("end", () => fail("stream closed by the service"));
  }

  /** Applies one watch message (§1.5): the first replaces everything, later ones are deltas. */
  private applyWatch(msg: WatchResponse, snapshot: boolean): void {
    if (snapshot) this.discovered = new Map();
    for (const a of msg.affiliates ?? []) {
      if (!a.id || a.id === this.options.affiliateId) continue;
      if (msg.deleted) {
        this.discovered.delete(a.id);
        continue;
      }
      const decoded = this.decodeAffiliate(a);
      if (decoded) this.discovered.set(decoded.id, decoded);
    }
  }

  /** Decrypts one affiliate; null (and counted) when unusable, or when it has no data (§2.2). */
  private decodeAffiliate(msg: AffiliateMessage): DiscoveredAffiliate | null {
    if (!msg.id || msg.id === this.options.affiliateId) return null;
    const blob = msg.data;
    if (!blob || blob.length === 0) return null; // endpoints-only affiliate
    if (blob.length < 12) {
      this.stats.droppedShortData++;
      return null;
    }
    const plain = openAffiliateData(this.key, blob);
    if (plain === null) {
      this.stats.droppedDecryptFailures++;
      return null;
    }
    let data: AffiliateData;
    try {
      data = decodeAffiliateData(plain);
    } catch {
      this.stats.droppedDecodeFailures++;
      return null;
    }
    const endpoints: string[] = [];
    for (const e of msg.endpoints ?? []) {
      const message = openEndpoint(this.key, e);
      let text: string | null = null;
      if (message !== null) {
        try {
          text = decodeEndpoint(message);
        } catch {
          text = null;
        }
      }
      if (text === null) this.stats.droppedEndpoints++;
      else if (!endpoints.includes(text)) endpoints.push(text);
    }
    return { id: msg.id, data, endpoints };
  }

  /** The local endpoints plus `client_ip:port` when the filters let it through (§1.6, §4.3). */
  private publishedEndpoints(): string[] {
    const out = [...this.localEndpoints];
    const ip = this.clientIp;
    if (ip !== null && this.options.appendClientIp !== false) {
      const filters = this.options.publicIpFilters;
      if (!filters || filterIps([ip], filters).length > 0) {
        const ep = formatIpPort(parseIp(ip), this.options.port);
        if (!out.includes(ep)) out.push(ep);
      }
    }
    return out;
  }

  /** Own AffiliateUpdate, then one endpoints-only update per harvested affiliate (§1.7). */
  private async refresh(): Promise<void> {
    const client = this.client;
    if (client === null || this.localSealed === null) return;
    const ttl = {
      seconds: String(Math.floor(this.ttlMs / 1000)),
      nanos: (this.ttlMs % 1000) * 1e6,
    };
    const seal = (eps: readonly string[]) =>
      eps.map((e) => sealEndpoint(this.key, encodeEndpoint(e)));
    const deadline = Date.now() + UpdateTimeoutMs;
    await unary(
      client,
      "AffiliateUpdate",
      {
        cluster_id: this.options.clusterId,
        affiliate_id: this.options.affiliateId,
        affiliate_data: this.localSealed,
        affiliate_endpoints: seal(this.publishedEndpoints()),
        ttl,
      } satisfies AffiliateUpdateRequest,
      UpdateTimeoutMs,
    );
    this.stats.updatesSent++;
    for (const [id, eps] of this.otherEndpoints) {
      await unary(
        client,
        "AffiliateUpdate",
        {
          cluster_id: this.options.clusterId,
          affiliate_id: id,
          affiliate_endpoints: seal(eps),
          ttl,
        } satisfies AffiliateUpdateRequest,
        Math.max(1, deadline - Date.now()),
      );
      this.stats.updatesSent++;
    }
  }
}
