/**
 * Peers from affiliates (reference/kubespan.md §4.1): one WireGuard peer per other affiliate
 * with a KubeSpan public key; allowed IPs are its KubeSpan address, node addresses and advertised
 * prefixes, with overlaps between peers resolved first-wins in affiliate-ID order.
 */
import { makeCidr, parseCidr, parseIp } from "@wirespan/noise";
import type { DiscoveredAffiliate } from "./affiliate.js";
import { KubeSpanPeerKeepaliveSeconds } from "./constants.js";
import { IpSet } from "./ip-set.js";

/** A peer to configure (Talos `PeerSpecSpec` plus what the WireGuard config needs). */
export interface PeerSpec {
  /** WireGuard public key, base64: the peer's ID (§4.1). */
  readonly publicKey: string;
  readonly affiliateId: string;
  /** KubeSpan address (IP text), "" when the affiliate did not send one. */
  readonly address: string;
  /** Hostname of the affiliate (falls back to its Kubernetes node name). */
  readonly label: string;
  /** Candidate endpoints in the order received, canonical `ip:port`. */
  readonly endpoints: readonly string[];
  /** Minimal prefixes, IPv4 first. */
  readonly allowedIPs: readonly string[];
  /** Persistent keepalive, seconds (§4.2). */
  readonly persistentKeepalive: number;
}

export interface PeerSpecResult {
  /** Sorted by affiliate ID. */
  readonly peers: PeerSpec[];
  /** Human-readable reasons for skipped affiliates and trimmed allowed IPs. */
  readonly warnings: string[];
}

export interface LocalNode {
  readonly nodeId: string;
  readonly publicKey: string;
}

function isWireGuardKey(text: string): boolean {
  const b = Buffer.from(text, "base64");
  return b.length === 32 && b.toString("base64") === text;
}

function hostPrefix(ip: string) {
  const bytes = parseIp(ip);
  return makeCidr(bytes, bytes.length * 8);
}

/** Builds the peer list from the discovered affiliates (§4.1). Pure and deterministic. */
export function buildPeerSpecs(
  affiliates: Iterable<DiscoveredAffiliate>,
  local: LocalNode,
): PeerSpecResult {
  const warnings: string[] = [];
  const peers: PeerSpec[] = [];
  const seenKeys = new Set<string>([local.publicKey]);
  let claimed = IpSet.empty();
  const sorted = [...affiliates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const affiliate of sorted) {
    if (affiliate.id === local.nodeId) continue;
    const ks = affiliate.data.kubespan;
    if (!ks?.publicKey) continue;
    if (!isWireGuardKey(ks.publicKey)) {
      warnings.push(`affiliate ${affiliate.id}: invalid KubeSpan public key, skipped`);
      continue;
    }
    if (seenKeys.has(ks.publicKey)) {
      warnings.push(`affiliate ${affiliate.id}: public key already used by another peer, skipped`);
      continue;
    }
    seenKeys.add(ks.publicKey);
    const prefixes = [];
    for (const p of ks.additionalAddresses) {
      try {
        prefixes.push(parseCidr(p));
      } catch {
        // Came off the network already canonical; anything else is skipped.
      }
    }
    for (const a of affiliate.data.addresses) prefixes.push(hostPrefix(a));
    if (ks.address) prefixes.push(hostPrefix(ks.address));
    let set = IpSet.of(prefixes);
    if (set.overlaps(claimed)) {
      const label = affiliate.data.hostname || affiliate.id;
      warnings.push(
        `peer ${label} (${affiliate.id}): allowed IPs overlap earlier peers; overlapping ranges removed`,
      );
      set = set.minus(claimed);
    }
    claimed = claimed.union(set);
    peers.push({
      publicKey: ks.publicKey,
      affiliateId: affiliate.id,
      address: ks.address,
      label: affiliate.data.hostname || affiliate.data.nodename,
      endpoints: [...new Set(affiliate.endpoints)],
      allowedIPs: set.toStrings(),
      persistentKeepalive: KubeSpanPeerKeepaliveSeconds,
    });
  }
  return { peers, warnings };
}
