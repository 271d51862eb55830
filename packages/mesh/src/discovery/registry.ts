import type { DiscoveryLimits } from "./limits.js";
import { resourceExhausted } from "./refusal.js";
import {
  validateAffiliateId,
  validateClusterId,
  validateData,
  validateEndpoints,
  validateTtlMs,
} from "./validate.js";

/**
 * The discovery registry (kubespan.md §1.4): clusterID → affiliateID → {data, expiration,
 * endpoints with their own expirations}. Pure state with an injected clock: no timers, no I/O.
 * Data and endpoints are opaque encrypted blobs and are never parsed.
 */

/**
 * An affiliate as sent to clients: id, data (maybe empty) and all live endpoints in order. One
 * view object per version of an affiliate, shared by every snapshot and notification until the
 * affiliate changes (watch.ts caches its encoding by it); treat it as immutable.
 */
export interface AffiliateView {
  readonly id: string;
  readonly data: Uint8Array;
  readonly endpoints: readonly Uint8Array[];
}

/** One change in a cluster; Watch sends each as one message (§1.5). */
export type ClusterEvent =
  | { kind: "update"; affiliate: AffiliateView }
  | { kind: "delete"; id: string };

export interface ClusterSubscriber {
  notify(event: ClusterEvent): void;
}

export interface AffiliateUpdate {
  clusterId: string;
  affiliateId: string;
  /** Absent or empty: the stored data is left untouched (§1.2 `affiliate_data` optional). */
  data?: Uint8Array;
  /** Merged with byte-exact de-duplication, never replacing the stored list. */
  endpoints?: readonly Uint8Array[];
  ttlMs: number;
}

export interface Subscription {
  /** Every live affiliate at the moment of subscribing (may be empty). */
  snapshot: AffiliateView[];
  unsubscribe(): void;
}

export interface RegistryStats {
  clusters: number;
  affiliates: number;
  endpoints: number;
  watchers: number;
}

export interface GcResult {
  affiliates: number;
  endpoints: number;
  clusters: number;
}

/** Plain registry content with absolute expirations (ms on the registry clock), for snapshots. */
export interface RegistryState {
  clusters: {
    id: string;
    affiliates: {
      id: string;
      data: Uint8Array;
      expiresAt: number;
      endpoints: { data: Uint8Array; expiresAt: number }[];
    }[];
  }[];
}

interface EndpointRecord {
  data: Buffer;
  expiresAt: number;
}

interface AffiliateRecord {
  id: string;
  data: Buffer;
  expiresAt: number;
  endpoints: EndpointRecord[];
  /** The current view, made on first use after each change (see {@link AffiliateView}). */
  view?: AffiliateView;
}

interface ClusterRecord {
  id: string;
  affiliates: Map<string, AffiliateRecord>;
  subscribers: Set<ClusterSubscriber>;
}

const EMPTY = Buffer.alloc(0);

export class Registry {
  private readonly clusters = new Map<string, ClusterRecord>();
  /** Totals removed by expiry, whether found by the periodic GC or on access. */
  readonly expired = { affiliates: 0, endpoints: 0 };

  constructor(
    private readonly limits: DiscoveryLimits,
    private readonly now: () => number,
  ) {}

  /** Create or refresh an affiliate; all-or-nothing: a refused update changes nothing. */
  update(req: AffiliateUpdate): void {
    const clusterId = validateClusterId(req.clusterId, this.limits);
    const affiliateId = validateAffiliateId(req.affiliateId, this.limits);
    const endpoints = req.endpoints ?? [];
    validateData(req.data, this.limits);
    validateEndpoints(endpoints, this.limits);
    const ttlMs = validateTtlMs(req.ttlMs, this.limits);

    const now = this.now();
    const expiresAt = now + ttlMs;
    let cluster = this.clusters.get(clusterId);
    if (cluster) this.collect(cluster, now);
    const existing = cluster?.affiliates.get(affiliateId);
    if (!existing) {
      if (!cluster && this.clusters.size >= this.limits.clustersMax) {
        throw resourceExhausted("too many clusters");
      }
      if (cluster && cluster.affiliates.size >= this.limits.clusterAffiliatesMax) {
        throw resourceExhausted("too many affiliates in the cluster");
      }
    }
    const known = existing?.endpoints ?? [];
    const fresh: Buffer[] = [];
    for (const endpoint of endpoints) {
      if (!known.some((e) => e.data.equals(endpoint)) && !fresh.some((e) => e.equals(endpoint))) {
        fresh.push(Buffer.from(endpoint));
      }
    }
    if (known.length + fresh.length > this.limits.affiliateEndpointsMax) {
      throw resourceExhausted("too many endpoints for the affiliate");
    }

    // Validated: commit.
    if (!cluster) {
      cluster = { id: clusterId, affiliates: new Map(), subscribers: new Set() };
      this.clusters.set(clusterId, cluster);
    }
    let affiliate = existing;
    let changed = false;
    if (!affiliate) {
      affiliate = { id: affiliateId, data: EMPTY, expiresAt, endpoints: [] };
      cluster.affiliates.set(affiliateId, affiliate);
      changed = true;
    }
    if (req.data !== undefined && req.data.length > 0) {
      // §1.4: data present → replace it and set the expiration.
      if (!affiliate.data.equals(req.data)) {
        affiliate.data = Buffer.from(req.data);
        changed = true;
      }
      affiliate.expiresAt = expiresAt;
    } else {
      // §1.4: an endpoint-only update (possibly from another node) still keeps it alive.
      affiliate.expiresAt = Math.max(affiliate.expiresAt, expiresAt);
    }
    for (const endpoint of endpoints) {
      const record = affiliate.endpoints.find((e) => e.data.equals(endpoint));
      if (record) record.expiresAt = Math.max(record.expiresAt, expiresAt);
    }
    for (const data of fresh) {
      affiliate.endpoints.push({ data, expiresAt });
      changed = true;
    }
    if (changed) {
      affiliate.view = undefined;
      this.publish(cluster, { kind: "update", affiliate: view(affiliate) });
    }
  }

  /** Remove an affiliate; deleting an unknown one is not an error. */
  delete(clusterIdInput: string, affiliateIdInput: string): void {
    const clusterId = validateClusterId(clusterIdInput, this.limits);
    const affiliateId = validateAffiliateId(affiliateIdInput, this.limits);
    const cluster = this.clusters.get(clusterId);
    if (!cluster) return;
    this.collect(cluster, this.now());
    if (cluster.affiliates.delete(affiliateId)) {
      this.publish(cluster, { kind: "delete", id: affiliateId });
    }
    this.dropIfIdle(cluster);
  }

  list(clusterIdInput: string): AffiliateView[] {
    const clusterId = validateClusterId(clusterIdInput, this.limits);
    const cluster = this.clusters.get(clusterId);
    if (!cluster) return [];
    this.collect(cluster, this.now());
    this.dropIfIdle(cluster);
    return [...cluster.affiliates.values()].map(view);
  }

  /** Atomically take a snapshot and register for every later change (§1.5). */
  subscribe(clusterIdInput: string, subscriber: ClusterSubscriber): Subscription {
    const clusterId = validateClusterId(clusterIdInput, this.limits);
    let cluster = this.clusters.get(clusterId);
    if (!cluster) {
      if (this.clusters.size >= this.limits.clustersMax)
        throw resourceExhausted("too many clusters");
      cluster = { id: clusterId, affiliates: new Map(), subscribers: new Set() };
      this.clusters.set(clusterId, cluster);
    } else {
      this.collect(cluster, this.now());
    }
    cluster.subscribers.add(subscriber);
    const record = cluster;
    return {
      snapshot: [...record.affiliates.values()].map(view),
      unsubscribe: () => {
        if (record.subscribers.delete(subscriber)) this.dropIfIdle(record);
      },
    };
  }

  /** Remove expired affiliates and endpoints, then clusters left empty with no watcher (§1.4). */
  gc(): GcResult {
    const now = this.now();
    const result: GcResult = { affiliates: 0, endpoints: 0, clusters: 0 };
    for (const cluster of [...this.clusters.values()]) {
      const removed = this.collect(cluster, now);
      result.affiliates += removed.affiliates;
      result.endpoints += removed.endpoints;
      if (this.dropIfIdle(cluster)) result.clusters++;
    }
    return result;
  }

  stats(): RegistryStats {
    const stats: RegistryStats = {
      clusters: this.clusters.size,
      affiliates: 0,
      endpoints: 0,
      watchers: 0,
    };
    for (const cluster of this.clusters.values()) {
      stats.affiliates += cluster.affiliates.size;
      stats.watchers += cluster.subscribers.size;
      for (const affiliate of cluster.affiliates.values())
        stats.endpoints += affiliate.endpoints.length;
    }
    return stats;
  }

  exportState(): RegistryState {
    const clusters: RegistryState["clusters"] = [];
    for (const cluster of this.clusters.values()) {
      if (cluster.affiliates.size === 0) continue;
      clusters.push({
        id: cluster.id,
        affiliates: [...cluster.affiliates.values()].map((a) => ({
          id: a.id,
          data: a.data,
          expiresAt: a.expiresAt,
          endpoints: a.endpoints.map((e) => ({ data: e.data, expiresAt: e.expiresAt })),
        })),
      });
    }
    return { clusters };
  }

  /**
   * Load a snapshot into an empty registry. Records that are expired or break a limit are
   * skipped and counted: a snapshot file is trusted no more than a request.
   */
  importState(state: RegistryState): { affiliates: number; skipped: number } {
    const now = this.now();
    let affiliates = 0;
    let skipped = 0;
    for (const c of state.clusters) {
      for (const a of c.affiliates) {
        const live = a.endpoints.filter((e) => e.expiresAt > now);
        try {
          if (a.expiresAt <= now) throw new Error("expired");
          this.update({
            clusterId: c.id,
            affiliateId: a.id,
            data: a.data,
            endpoints: live.map((e) => e.data),
            ttlMs: Math.min(a.expiresAt - now, this.limits.ttlMaxMs),
          });
        } catch {
          skipped++;
          continue;
        }
        const record = this.clusters.get(c.id)!.affiliates.get(a.id)!;
        record.expiresAt = Math.min(a.expiresAt, now + this.limits.ttlMaxMs);
        for (const e of record.endpoints) {
          const saved = live.find((s) => e.data.equals(s.data));
          if (saved) e.expiresAt = Math.min(saved.expiresAt, now + this.limits.ttlMaxMs);
        }
        affiliates++;
      }
    }
    return { affiliates, skipped };
  }

  private collect(cluster: ClusterRecord, now: number): { affiliates: number; endpoints: number } {
    let affiliates = 0;
    let endpoints = 0;
    for (const affiliate of [...cluster.affiliates.values()]) {
      if (affiliate.expiresAt <= now) {
        cluster.affiliates.delete(affiliate.id);
        affiliates++;
        this.publish(cluster, { kind: "delete", id: affiliate.id });
        continue;
      }
      const before = affiliate.endpoints.length;
      affiliate.endpoints = affiliate.endpoints.filter((e) => e.expiresAt > now);
      if (affiliate.endpoints.length !== before) {
        endpoints += before - affiliate.endpoints.length;
        affiliate.view = undefined;
        // Unlike the reference server's ID-only notice (§1.4 quirk), watchers get the full record.
        this.publish(cluster, { kind: "update", affiliate: view(affiliate) });
      }
    }
    this.expired.affiliates += affiliates;
    this.expired.endpoints += endpoints;
    return { affiliates, endpoints };
  }

  private dropIfIdle(cluster: ClusterRecord): boolean {
    if (cluster.affiliates.size > 0 || cluster.subscribers.size > 0) return false;
    if (this.clusters.get(cluster.id) !== cluster) return false;
    this.clusters.delete(cluster.id);
    return true;
  }

  private publish(cluster: ClusterRecord, event: ClusterEvent): void {
    for (const subscriber of [...cluster.subscribers]) subscriber.notify(event);
  }
}

function view(affiliate: AffiliateRecord): AffiliateView {
  affiliate.view ??= {
    id: affiliate.id,
    data: affiliate.data,
    endpoints: affiliate.endpoints.map((e) => e.data),
  };
  return affiliate.view;
}
