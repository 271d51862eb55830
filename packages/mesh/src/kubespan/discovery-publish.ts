/**
 * What the discovery client publishes (reference/kubespan.md §1.7): the local affiliate, sealed
 * with the cluster secret (§2.2), its endpoints (§2.3) plus `client_ip:port` where wanted (§1.6,
 * §4.3), and — when harvesting (§4.5) — endpoints observed for other affiliates. The sealed blob
 * is kept until the plaintext changes, since every new nonce is a change for all watchers.
 */
import { performance } from "node:perf_hooks";
import { parseIp } from "@wirespan/noise";
import type { AffiliateUpdateRequest } from "../discovery/proto.js";
import { type AffiliateData, encodeAffiliateData, encodeEndpoint } from "./affiliate.js";
import { sealAffiliateData, sealEndpoint } from "./discovery-crypto.js";
import { type ClusterClient, unary } from "./discovery-rpc.js";
import type { DiscoveryClientStats } from "./discovery-stats.js";
import { filterIps } from "./endpoints.js";
import { canonicalIpPort, formatIpPort } from "./ip-port.js";

/** AffiliateUpdate deadline for all updates of one refresh (§1.7). */
export const UpdateTimeoutMs = 30_000;

export interface PublicationOptions {
  readonly clusterId: string;
  readonly affiliateId: string;
  /** Mesh listen port: `client_ip` is published as `client_ip:port`. */
  readonly port: number;
  readonly ttlMs: number;
  readonly publicIpFilters?: readonly string[];
  readonly appendClientIp?: boolean;
}

export class LocalPublication {
  private plain: Uint8Array | null = null;
  private sealed: Uint8Array | null = null;
  private endpoints: string[] = [];
  private others = new Map<string, string[]>();

  constructor(
    private readonly key: Uint8Array,
    private readonly options: PublicationOptions,
  ) {}

  /** True once local data was set (there is something to publish or delete). */
  get hasData(): boolean {
    return this.plain !== null;
  }

  /** Replaces what is published; false when nothing changed (nothing to send). */
  set(
    data: AffiliateData,
    endpoints: readonly string[],
    otherEndpoints: ReadonlyMap<string, readonly string[]>,
  ): boolean {
    const plain = encodeAffiliateData(data);
    const eps = [...new Set(endpoints.map(canonicalIpPort))];
    const others = new Map<string, string[]>();
    for (const [id, list] of otherEndpoints) {
      if (id !== this.options.affiliateId && list.length > 0) {
        others.set(id, [...new Set(list.map(canonicalIpPort))]);
      }
    }
    const samePlain = this.plain !== null && Buffer.from(plain).equals(Buffer.from(this.plain));
    const same =
      samePlain &&
      eps.join(",") === this.endpoints.join(",") &&
      JSON.stringify([...others]) === JSON.stringify([...this.others]);
    if (same) return false;
    if (!samePlain) {
      this.plain = plain;
      this.sealed = sealAffiliateData(this.key, plain);
    }
    this.endpoints = eps;
    this.others = others;
    return true;
  }

  /** The local endpoints plus `client_ip:port` when the filters let it through (§1.6, §4.3). */
  publishedEndpoints(clientIp: string | null): string[] {
    const out = [...this.endpoints];
    if (clientIp !== null && this.options.appendClientIp !== false) {
      const filters = this.options.publicIpFilters;
      if (!filters || filterIps([clientIp], filters).length > 0) {
        const ep = formatIpPort(parseIp(clientIp), this.options.port);
        if (!out.includes(ep)) out.push(ep);
      }
    }
    return out;
  }

  /**
   * Own AffiliateUpdate, then one endpoints-only update per harvested affiliate (§1.7), each
   * counted in `stats.updatesSent`; throws on the first failed call.
   */
  async send(
    client: ClusterClient,
    clientIp: string | null,
    stats: DiscoveryClientStats,
  ): Promise<void> {
    if (this.sealed === null) return;
    const { clusterId, affiliateId, ttlMs } = this.options;
    const ttl = { seconds: String(Math.floor(ttlMs / 1000)), nanos: (ttlMs % 1000) * 1e6 };
    const seal = (eps: readonly string[]) =>
      eps.map((e) => sealEndpoint(this.key, encodeEndpoint(e)));
    const deadline = performance.now() + UpdateTimeoutMs;
    await unary(
      client,
      "AffiliateUpdate",
      {
        cluster_id: clusterId,
        affiliate_id: affiliateId,
        affiliate_data: this.sealed,
        affiliate_endpoints: seal(this.publishedEndpoints(clientIp)),
        ttl,
      } satisfies AffiliateUpdateRequest,
      UpdateTimeoutMs,
    );
    stats.updatesSent++;
    for (const [id, eps] of this.others) {
      await unary(
        client,
        "AffiliateUpdate",
        {
          cluster_id: clusterId,
          affiliate_id: id,
          affiliate_endpoints: seal(eps),
          ttl,
        } satisfies AffiliateUpdateRequest,
        Math.max(1, deadline - performance.now()),
      );
      stats.updatesSent++;
    }
  }
}
