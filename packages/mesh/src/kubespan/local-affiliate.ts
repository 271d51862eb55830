/**
 * The local affiliate a mesh node publishes (reference/kubespan.md §2.4) and the endpoints it
 * advertises (§4.3): node addresses, then the discovery `client_ip` if not among them, then the
 * endpoint filters, then the extra announced endpoints (deduplicated).
 */
import { parseIp } from "@wirespan/noise";
import type { AffiliateData } from "./affiliate.js";
import type { MeshConfig } from "./config.js";
import { advertisedEndpoints } from "./endpoints.js";
import { formatIpPort } from "./ip-port.js";

/** `operatingSystem` and discovery `client_version` of a wirespan node. */
export const OS_NAME = "wirespan";

export interface LocalAffiliateInputs {
  readonly config: MeshConfig;
  readonly nodeId: string;
  readonly publicKey: string;
  /** The node's KubeSpan address (ULA). */
  readonly address: string;
  /** Underlay node addresses. */
  readonly addresses: readonly string[];
  readonly listenPort: number;
  /** Public IP learned from discovery Hello (§1.6), null when unknown or not published. */
  readonly publicIp: string | null;
  /** Endpoints given explicitly (`ip:port`), instead of the addresses. */
  readonly endpoints?: readonly string[];
  /**
   * NAT traversal (nat/nat-traversal.ts), when on: STUN-reflexive endpoints, appended to the
   * list (Talos peers can use them too), and the home relay for the affiliate's extension.
   */
  readonly nat?: { readonly reflexive: readonly string[]; readonly homeRelay: string | null };
}

export interface LocalAffiliate {
  readonly data: AffiliateData;
  readonly endpoints: string[];
}

export function buildLocalAffiliate(i: LocalAffiliateInputs): LocalAffiliate {
  const ks = i.config.kubespan;
  const port = i.listenPort;
  let endpoints: string[];
  if (i.endpoints !== undefined) {
    // Given explicitly: they stand for the filtered addresses; client_ip still follows them.
    endpoints = [...i.endpoints];
    if (i.publicIp !== null) {
      const ep = formatIpPort(parseIp(i.publicIp), port);
      if (!endpoints.includes(ep)) endpoints.push(ep);
    }
  } else {
    endpoints = advertisedEndpoints({
      addresses: i.addresses,
      publicIp: i.publicIp,
      filters: ks.filters.endpoints,
      extraEndpoints: ks.extraAnnouncedEndpoints,
      port,
    });
  }
  for (const e of i.nat?.reflexive ?? []) if (!endpoints.includes(e)) endpoints.push(e);
  const data: AffiliateData = {
    nodeId: i.nodeId,
    // Talos publishes the routed node addresses including the KubeSpan address (§2.4).
    addresses: [...i.addresses, i.address],
    hostname: i.config.hostname,
    nodename: "", // not a Kubernetes node: keep Talos from making us a Member (§2.4)
    machineType: "worker",
    operatingSystem: OS_NAME,
    kubespan: {
      publicKey: i.publicKey,
      address: i.address,
      additionalAddresses: [...ks.advertisedNetworks],
    },
    controlPlane: null,
    ...(i.nat ? { wirespan: { homeRelay: i.nat.homeRelay ?? "" } } : {}),
  };
  return { data, endpoints };
}
