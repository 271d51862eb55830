/**
 * Peers from affiliates (reference/kubespan.md §4.1): one WireGuard peer per other affiliate
 * with a KubeSpan public key; allowed IPs are its KubeSpan address, node addresses and advertised
 * prefixes, with overlaps between peers resolved first-wins in affiliate-ID order — after the
 * claims no affiliate may make are refused ({@link buildPeerSpecs}).
 */
import { cidrContains, makeCidr, parseCidr, parseIp } from "@wirespan/noise";
import type { DiscoveredAffiliate, KubeSpanAffiliate } from "./affiliate.js";
import { KubeSpanPeerKeepaliveSeconds } from "./constants.js";
import { IpSet } from "./ip-set.js";

type Cidr = ReturnType<typeof parseCidr>;

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
  /**
   * wirespan extension from the affiliate (NAT traversal, nat/nat-traversal.ts): present when the
   * peer answers path probes; `homeRelay` null when it announced none.
   */
  readonly wirespan?: { readonly homeRelay: string | null } | null;
}

export interface PeerSpecResult {
  /** Sorted by affiliate ID. */
  readonly peers: PeerSpec[];
  /** Human-readable reasons for skipped affiliates and trimmed allowed IPs. */
  readonly warnings: string[];
  /** Address claims refused or trimmed (see {@link buildPeerSpecs}). */
  readonly refusedClaims: number;
}

export interface LocalNode {
  readonly nodeId: string;
  readonly publicKey: string;
  /**
   * This node's own addresses and prefixes (node addresses, KubeSpan address, advertised
   * networks; IP or CIDR text): no peer may claim any part of them.
   */
  readonly addresses?: readonly string[];
  /** The cluster's KubeSpan ULA subnet (§3): a peer's KubeSpan address must lie inside it. */
  readonly subnet?: string;
}

function isWireGuardKey(text: string): boolean {
  const b = Buffer.from(text, "base64");
  return b.length === 32 && b.toString("base64") === text;
}

function hostPrefix(ip: string): Cidr {
  const bytes = parseIp(ip);
  return makeCidr(bytes, bytes.length * 8);
}

/** IP or CIDR text as a prefix; null when it is neither. */
function prefixOf(text: string): Cidr | null {
  try {
    return text.includes("/") ? parseCidr(text) : hostPrefix(text);
  } catch {
    return null;
  }
}

interface Candidate {
  readonly affiliate: DiscoveredAffiliate;
  readonly ks: KubeSpanAffiliate;
  /** The node's own addresses (node addresses and KubeSpan address) as host prefixes. */
  readonly hosts: Cidr[];
  /** Its KubeSpan address, "" when it sent none or it was refused. */
  readonly address: string;
}

/**
 * Builds the peer list from the discovered affiliates (§4.1). Pure and deterministic.
 *
 * Talos trusts every affiliate's claims and resolves overlaps first-wins by affiliate ID — an ID
 * the claimant chooses. Any holder of the cluster secret (or a misconfigured node) could then
 * pull traffic into its tunnel: with `allowDownPeerBypass` off, a claimed default route takes
 * all of it. wirespan refuses, counts and warns about: a default route (/0); any claim on this
 * node's own addresses (an advertised prefix is trimmed of them); the part of an advertised
 * prefix that covers another node's own addresses (node addresses and KubeSpan address outrank
 * advertised prefixes whatever the IDs); a KubeSpan address outside the cluster's subnet.
 * Remaining overlaps are resolved first-wins as in Talos.
 */
export function buildPeerSpecs(
  affiliates: Iterable<DiscoveredAffiliate>,
  local: LocalNode,
): PeerSpecResult {
  const warnings: string[] = [];
  const peers: PeerSpec[] = [];
  let refusedClaims = 0;
  const refuse = (affiliate: DiscoveredAffiliate, what: string) => {
    refusedClaims++;
    warnings.push(`affiliate ${affiliate.id}: refused ${what}`);
  };
  const own = IpSet.of((local.addresses ?? []).map(prefixOf).filter((p) => p !== null));
  const subnet = local.subnet === undefined ? null : parseCidr(local.subnet);
  const candidates = [];
  for (const c of validAffiliates(affiliates, local, warnings)) {
    const hosts: Cidr[] = [];
    for (const a of c.affiliate.data.addresses) {
      const p = hostPrefix(a);
      if (IpSet.of([p]).overlaps(own)) refuse(c.affiliate, `${a}: an address of this node`);
      else hosts.push(p);
    }
    let address = c.ks.address;
    if (address) {
      const p = hostPrefix(address);
      const why =
        subnet !== null && !cidrContains(subnet, p.bytes)
          ? "KubeSpan address outside the cluster subnet"
          : IpSet.of([p]).overlaps(own)
            ? "an address of this node"
            : null;
      if (why === null) hosts.push(p);
      else {
        refuse(c.affiliate, `${address}: ${why}`);
        address = "";
      }
    }
    candidates.push({ ...c, hosts, address });
  }
  const allHosts = IpSet.of(candidates.flatMap((c) => c.hosts));
  let claimed = IpSet.empty();
  for (const { affiliate, ks, hosts, address } of candidates) {
    const advertised = [];
    for (const text of ks.additionalAddresses) {
      const p = prefixOf(text);
      if (p === null) continue; // came off the network already canonical
      if (p.bits === 0) refuse(affiliate, `${text}: a default route`);
      else advertised.push(p);
    }
    let kept = IpSet.of(advertised);
    if (kept.overlaps(own)) {
      refuse(affiliate, "the part of its advertised networks that covers this node");
      kept = kept.minus(own);
    }
    if (!kept.isEmpty()) {
      const othersHosts = allHosts.minus(IpSet.of(hosts));
      if (kept.overlaps(othersHosts)) {
        refuse(affiliate, "the part of its advertised networks that covers other nodes");
        kept = kept.minus(othersHosts);
      }
    }
    let set = IpSet.of(hosts).union(kept);
    if (set.overlaps(claimed)) {
      const label = affiliate.data.hostname || affiliate.id;
      refusedClaims++;
      warnings.push(
        `peer ${label} (${affiliate.id}): allowed IPs overlap earlier peers; overlapping ranges removed`,
      );
      set = set.minus(claimed);
    }
    claimed = claimed.union(set);
    peers.push({
      publicKey: ks.publicKey,
      affiliateId: affiliate.id,
      address,
      label: affiliate.data.hostname || affiliate.data.nodename,
      // 100::/64 (RFC 6666) stands for relay paths locally (relay-endpoints.ts): never a candidate.
      endpoints: [...new Set(affiliate.endpoints)].filter((e) => !e.startsWith("[100::")),
      allowedIPs: set.toStrings(),
      persistentKeepalive: KubeSpanPeerKeepaliveSeconds,
      ...(affiliate.data.wirespan
        ? { wirespan: { homeRelay: affiliate.data.wirespan.homeRelay || null } }
        : {}),
    });
  }
  return { peers, warnings, refusedClaims };
}

/** Other affiliates with a valid, unique KubeSpan public key, sorted by ID (§4.1). */
function validAffiliates(
  affiliates: Iterable<DiscoveredAffiliate>,
  local: LocalNode,
  warnings: string[],
): Omit<Candidate, "hosts" | "address">[] {
  const out = [];
  const seenKeys = new Set<string>([local.publicKey]);
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
    out.push({ affiliate, ks });
  }
  return out;
}
