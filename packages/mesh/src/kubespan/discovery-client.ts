/**
 * Client of the Sidero discovery service, wire compatible with Talos's (reference/kubespan.md
 * §1.7): Hello (learns this node's public IP, follows redirects) → Watch (snapshot, then one
 * change per message) → AffiliateUpdate of the local affiliate (TTL 30 min, refreshed at TTL/2
 * and on change) → AffiliateDelete on shutdown. Reconnects with capped exponential backoff.
 * Everything sent is encrypted with the cluster secret (§2.2, §2.3); the service sees blobs.
 *
 * The parts: discovery-rpc.ts (gRPC stub and calls), discovery-watch.ts (one Watch stream),
 * discovered-affiliates.ts (decrypting and applying what the Watch delivers),
 * discovery-publish.ts (what this node publishes), discovery-backoff.ts (reconnect delays).
 * This file is the connection loop that ties them together.
 */
import { EventEmitter } from "node:events";
import { formatIp } from "@wirespan/noise";
import type { HelloRequest, HelloResponse, ListRequest, ListResponse } from "../discovery/proto.js";
import type { AffiliateData, DiscoveredAffiliate } from "./affiliate.js";
import { DiscoveryTtlMs } from "./constants.js";
import { DiscoveredAffiliates } from "./discovered-affiliates.js";
import { Backoff, type BackoffOptions, DefaultBackoff } from "./discovery-backoff.js";
import { clusterSecretKey } from "./discovery-crypto.js";
import { type DiscoveryTarget, parseDiscoveryEndpoint } from "./discovery-endpoint.js";
import { LocalPublication, UpdateTimeoutMs } from "./discovery-publish.js";
import { type ClusterClient, connectCluster, unary } from "./discovery-rpc.js";
import { type DiscoveryClientStats, emptyDiscoveryClientStats } from "./discovery-stats.js";
import { WatchStream } from "./discovery-watch.js";
import { Wakeup } from "./wakeup.js";

/** Hello deadline (§1.7). */
const HelloTimeoutMs = 10_000;
/** Deadline of the best-effort AffiliateDelete when stopping. */
const DeleteTimeoutMs = 5_000;

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
  readonly stats: DiscoveryClientStats = emptyDiscoveryClientStats();

  private readonly ttlMs: number;
  private readonly backoff: Backoff;
  private readonly publication: LocalPublication;
  private readonly discovered: DiscoveredAffiliates;
  private target: DiscoveryTarget;
  private client: ClusterClient | null = null;
  private watch: WatchStream | null = null;
  private watchFailed = false;
  private readonly wakeup = new Wakeup();
  private running: Promise<void> | null = null;
  private stopping = false;
  private refreshDue = true;
  private clientIp: string | null = null;
  private isConnected = false;

  constructor(private readonly options: DiscoveryClientOptions) {
    super();
    const key = clusterSecretKey(options.clusterSecret);
    this.target = parseDiscoveryEndpoint(options.endpoint);
    this.ttlMs = options.ttlMs ?? DiscoveryTtlMs;
    this.backoff = new Backoff({ ...DefaultBackoff, ...options.backoff });
    if (!options.clusterId) throw new Error("discovery client needs a cluster ID");
    if (!options.affiliateId) throw new Error("discovery client needs an affiliate ID");
    this.publication = new LocalPublication(key, { ...options, ttlMs: this.ttlMs });
    this.discovered = new DiscoveredAffiliates(key, options.affiliateId, this.stats);
  }

  /** Affiliates other than this node, as last seen. */
  get affiliates(): Map<string, DiscoveredAffiliate> {
    return this.discovered.all();
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
    if (!this.publication.set(data, endpoints, otherEndpoints)) return;
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
    if ((options.deleteAffiliate ?? true) && this.publication.hasData) {
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
        const a = this.discovered.decode(msg);
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

  /**
   * Emits to each listener on its own: a listener that throws is logged and counted, and
   * neither stops the others nor escapes into the connection loop (which would end it for
   * good) or into the gRPC stream's callbacks.
   */
  private notify<K extends keyof DiscoveryClientEvents>(
    event: K,
    ...args: DiscoveryClientEvents[K]
  ): void {
    for (const listener of this.rawListeners(event)) {
      try {
        (listener as (...a: DiscoveryClientEvents[K]) => void)(...args);
      } catch (err) {
        this.stats.listenerErrors++;
        this.log(
          `discovery: ${event} listener failed: ${err instanceof Error ? err.message : err}`,
        );
      }
    }
  }

  private connect(keep = true): ClusterClient {
    const client = connectCluster(this.target, this.ttlMs);
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
    this.watch?.cancel();
    this.watch = null;
  }

  private setConnected(value: boolean): void {
    if (this.isConnected === value) return;
    this.isConnected = value;
    this.notify("connected", value);
  }

  private async run(): Promise<void> {
    let firstAttempt = true;
    while (!this.stopping) {
      if (this.watch === null) {
        if (!firstAttempt) {
          this.stats.reconnects++;
          await this.wakeup.wait(this.backoff.next());
          if (this.stopping) break;
        }
        firstAttempt = false;
        if (!(await this.establish())) continue;
      }
      if (this.refreshDue) {
        // Cleared before the call: a setLocalData() while the update is in flight (the home
        // relay or reflexive endpoints arriving just after start) sets it again and is pushed
        // next, instead of waiting for the TTL/2 refresh — the update sends what was set when
        // it began.
        this.refreshDue = false;
        try {
          await this.refresh();
          this.backoff.reset();
          this.setConnected(true);
        } catch (e) {
          this.refreshDue = true;
          this.log(`discovery: update failed: ${(e as Error).message}`);
          this.cancelWatch();
          this.setConnected(false);
          continue;
        }
      }
      // Sleep until TTL/2 (refresh), a local change, a watch failure or stop. The timer says
      // when TTL/2 passed: a wall-clock step must neither skip nor hasten a refresh.
      if (await this.wakeup.wait(this.ttlMs / 2)) this.refreshDue = true;
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
      this.backoff.reset();
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
    this.notify("publicIp", ip);
  }

  private startWatch(client: ClusterClient): void {
    this.watchFailed = false;
    this.watch = new WatchStream(client, this.options.clusterId, {
      message: (msg, snapshot) => {
        this.stats.watchMessages++;
        this.discovered.apply(msg, snapshot);
        this.notify("affiliates", this.affiliates);
      },
      failed: (why) => {
        this.log(`discovery: watch ended: ${why}`);
        this.watchFailed = true;
        this.wakeup.notify();
      },
    });
  }

  /** Own AffiliateUpdate, then one endpoints-only update per harvested affiliate (§1.7). */
  private async refresh(): Promise<void> {
    if (this.client === null) return;
    await this.publication.send(this.client, this.clientIp, this.stats);
  }
}
