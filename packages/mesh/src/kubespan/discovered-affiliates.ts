/**
 * The other affiliates as the discovery client knows them: each one decrypted with the cluster
 * secret (reference/kubespan.md §2.2, §2.3), and the set kept up to date from Watch messages
 * (§1.5: the first message of a stream is a full snapshot, later ones one change each). Whatever
 * cannot be used is dropped and counted in the client's stats.
 */
import type { AffiliateMessage, WatchResponse } from "../discovery/proto.js";
import {
  type AffiliateData,
  type DiscoveredAffiliate,
  decodeAffiliateData,
  decodeEndpoint,
} from "./affiliate.js";
import { openAffiliateData, openEndpoint } from "./discovery-crypto.js";
import type { DiscoveryClientStats } from "./discovery-stats.js";

export class DiscoveredAffiliates {
  private discovered = new Map<string, DiscoveredAffiliate>();

  constructor(
    private readonly key: Uint8Array,
    /** This node's affiliate ID: the service lists it too; it is never kept. */
    private readonly ownId: string,
    private readonly stats: DiscoveryClientStats,
  ) {}

  /** A copy of the current set. */
  all(): Map<string, DiscoveredAffiliate> {
    return new Map(this.discovered);
  }

  /** Applies one watch message (§1.5): a snapshot replaces everything, later ones are deltas. */
  apply(msg: WatchResponse, snapshot: boolean): void {
    if (snapshot) this.discovered = new Map();
    for (const a of msg.affiliates ?? []) {
      if (!a.id || a.id === this.ownId) continue;
      if (msg.deleted) {
        this.discovered.delete(a.id);
        continue;
      }
      const decoded = this.decode(a);
      if (decoded) this.discovered.set(decoded.id, decoded);
    }
  }

  /** Decrypts one affiliate; null (and counted) when unusable, or when it has no data (§2.2). */
  decode(msg: AffiliateMessage): DiscoveredAffiliate | null {
    if (!msg.id || msg.id === this.ownId) return null;
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
    const dropped = { prefixes: 0 };
    try {
      data = decodeAffiliateData(plain, dropped);
    } catch {
      this.stats.droppedDecodeFailures++;
      return null;
    }
    this.stats.droppedPrefixes += dropped.prefixes;
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
}
