/**
 * The plaintext affiliate record and endpoint message that KubeSpan nodes exchange through the
 * discovery service (reference/kubespan.md §2.4), encoded with protobufjs from
 * `proto/affiliate.proto`. Addresses travel as Go netip binary IPs (4 or 16 bytes).
 */
import { fileURLToPath } from "node:url";
import { formatCidr, formatIp, makeCidr, parseCidr, parseIp } from "@wirespan/noise";
import protobuf from "protobufjs";
import { formatIpPort, type IpPort, parseIpPort } from "./ip-port.js";

/** KubeSpan block of an affiliate (§2.4 `KubeSpan`). */
export interface KubeSpanAffiliate {
  /** WireGuard public key, base64. */
  readonly publicKey: string;
  /** The node's KubeSpan address (IPv6 text), "" when absent. */
  readonly address: string;
  /** Extra prefixes routed to the node through the mesh, canonical CIDR text. */
  readonly additionalAddresses: readonly string[];
}

/** Decoded `sidero.discovery.client.Affiliate` (§2.4). */
export interface AffiliateData {
  readonly nodeId: string;
  /** Node addresses, canonical IP text. */
  readonly addresses: readonly string[];
  readonly hostname: string;
  /** Kubernetes node name; wirespan nodes leave it empty (§2.4 interop caution). */
  readonly nodename: string;
  /** `controlplane` / `worker` / `init` / `unknown`. */
  readonly machineType: string;
  readonly operatingSystem: string;
  readonly kubespan: KubeSpanAffiliate | null;
  readonly controlPlane: { readonly apiServerPort: number } | null;
  /**
   * wirespan extension (field 1000, ignored by Talos): present on wirespan nodes that take part
   * in NAT traversal (answer path probes); `homeRelay` is "" when none is reachable.
   */
  readonly wirespan?: { readonly homeRelay: string } | null;
}

/** An affiliate as seen from the discovery service after decryption. */
export interface DiscoveredAffiliate {
  /** Affiliate ID (= node ID). */
  readonly id: string;
  readonly data: AffiliateData;
  /** Endpoints in the order the service holds them, canonical `ip:port`, deduplicated. */
  readonly endpoints: readonly string[];
}

const root = protobuf.loadSync(fileURLToPath(new URL("./proto/affiliate.proto", import.meta.url)));
const AffiliateType = root.lookupType("sidero.discovery.client.Affiliate");
const EndpointType = root.lookupType("sidero.discovery.client.Endpoint");

interface RawPrefix {
  ip?: Uint8Array;
  bits?: number;
}
interface RawAffiliate {
  nodeId?: string;
  addresses?: Uint8Array[];
  hostname?: string;
  nodename?: string;
  machineType?: string;
  operatingSystem?: string;
  kubespan?: { publicKey?: string; address?: Uint8Array; additionalAddresses?: RawPrefix[] } | null;
  controlPlane?: { apiServerPort?: number } | null;
  wirespan?: { homeRelay?: string } | null;
}

/** Go netip binary form → text. A zone suffix after 16 bytes is dropped (§2.4). */
function decodeIp(bytes: Uint8Array | undefined): string | null {
  if (!bytes || (bytes.length !== 4 && bytes.length < 16)) return null;
  return formatIp(bytes.length === 4 ? bytes : bytes.subarray(0, 16));
}

/** Serialises affiliate data to protobuf bytes. Throws on malformed addresses (a local bug). */
export function encodeAffiliateData(data: AffiliateData): Uint8Array {
  // proto3 leaves default values (empty strings) off the wire, as Go's encoder does.
  const raw: RawAffiliate = { addresses: data.addresses.map((a) => parseIp(a)) };
  if (data.nodeId) raw.nodeId = data.nodeId;
  if (data.hostname) raw.hostname = data.hostname;
  if (data.nodename) raw.nodename = data.nodename;
  if (data.machineType) raw.machineType = data.machineType;
  if (data.operatingSystem) raw.operatingSystem = data.operatingSystem;
  if (data.kubespan) {
    raw.kubespan = {
      additionalAddresses: data.kubespan.additionalAddresses.map((p) => {
        const c = parseCidr(p);
        return { ip: c.bytes, bits: c.bits };
      }),
    };
    if (data.kubespan.publicKey) raw.kubespan.publicKey = data.kubespan.publicKey;
    if (data.kubespan.address) raw.kubespan.address = parseIp(data.kubespan.address);
  }
  if (data.controlPlane) raw.controlPlane = { apiServerPort: data.controlPlane.apiServerPort };
  if (data.wirespan) {
    raw.wirespan = data.wirespan.homeRelay ? { homeRelay: data.wirespan.homeRelay } : {};
  }
  return AffiliateType.encode(AffiliateType.fromObject(raw)).finish();
}

/**
 * Parses affiliate data. Throws on undecodable protobuf; individual malformed addresses or
 * prefixes (wrong length, bad prefix length) are skipped, as they come from the network, and
 * counted in `dropped.prefixes` when given.
 *
 * A prefix without a length is skipped, not read as /0: proto3 (§2.4 `IPPrefix.bits`) cannot
 * tell a missing length from a zero one, and a /0 is a default route (peer-spec.ts refuses it).
 */
export function decodeAffiliateData(
  bytes: Uint8Array,
  dropped?: { prefixes: number },
): AffiliateData {
  const raw = AffiliateType.toObject(AffiliateType.decode(bytes), {
    defaults: false,
    arrays: true,
    longs: Number,
  }) as RawAffiliate;
  const addresses: string[] = [];
  for (const a of raw.addresses ?? []) {
    const text = decodeIp(a);
    if (text !== null) addresses.push(text);
  }
  let kubespan: KubeSpanAffiliate | null = null;
  if (raw.kubespan) {
    const additional: string[] = [];
    for (const p of raw.kubespan.additionalAddresses ?? []) {
      const ip = decodeIp(p.ip);
      try {
        if (ip === null || !p.bits) throw new RangeError("no address or no prefix length");
        additional.push(formatCidr(makeCidr(parseIp(ip), p.bits)));
      } catch {
        // Bad address or prefix length out of range: skip the prefix.
        if (dropped) dropped.prefixes++;
      }
    }
    kubespan = {
      publicKey: raw.kubespan.publicKey ?? "",
      address: decodeIp(raw.kubespan.address) ?? "",
      additionalAddresses: additional,
    };
  }
  return {
    nodeId: raw.nodeId ?? "",
    addresses,
    hostname: raw.hostname ?? "",
    nodename: raw.nodename ?? "",
    machineType: raw.machineType ?? "",
    operatingSystem: raw.operatingSystem ?? "",
    kubespan,
    controlPlane: raw.controlPlane ? { apiServerPort: raw.controlPlane.apiServerPort ?? 0 } : null,
    // Only present when sent, so Talos affiliates decode exactly as before.
    ...(raw.wirespan ? { wirespan: { homeRelay: raw.wirespan.homeRelay ?? "" } } : {}),
  };
}

/** Serialises an `ip:port` endpoint as the `Endpoint` message (§2.4). */
export function encodeEndpoint(endpoint: string | IpPort): Uint8Array {
  const { ip, port } = typeof endpoint === "string" ? parseIpPort(endpoint) : endpoint;
  return EndpointType.encode(EndpointType.fromObject({ ip, port })).finish();
}

/** Parses an `Endpoint` message into canonical `ip:port`; throws when it is not one. */
export function decodeEndpoint(bytes: Uint8Array): string {
  const raw = EndpointType.toObject(EndpointType.decode(bytes)) as {
    ip?: Uint8Array;
    port?: number;
  };
  const ip = decodeIp(raw.ip);
  const port = raw.port ?? 0;
  if (ip === null || port < 1 || port > 65535) throw new Error("invalid endpoint message");
  return formatIpPort(parseIp(ip), port);
}
