/**
 * The endpoints this node advertises (reference/kubespan.md §4.3): its current addresses plus
 * the public IP learned from discovery, passed through the ordered `filters.endpoints` rules,
 * each with the mesh port, then the configured extra endpoints.
 */
import { networkInterfaces } from "node:os";
import { cidrContains, formatIp, parseCidr, parseIp } from "@wirespan/noise";
import { isUla } from "./addressing.js";
import { ULAPurpose } from "./constants.js";
import { canonicalIpPort, formatIpPort } from "./ip-port.js";

const linkLocal4 = parseCidr("169.254.0.0/16");
const linkLocal6 = parseCidr("fe80::/10");

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length; // IPv4 before IPv6
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * The node's usable addresses, canonical text, sorted (IPv4 first, then by value): every
 * address of an up interface except loopback, link-local, the interfaces in `exclude` (the mesh
 * interface itself) and KubeSpan/SideroLink ULAs (§4.3 step 1).
 */
export function localAddresses(
  exclude: readonly string[] = [],
  interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces(),
): string[] {
  const found: Uint8Array[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    if (exclude.includes(name)) continue;
    for (const info of infos ?? []) {
      if (info.internal) continue;
      let ip: Uint8Array;
      try {
        ip = parseIp(info.address.replace(/%.*$/, ""));
      } catch {
        continue;
      }
      if (cidrContains(linkLocal4, ip) || cidrContains(linkLocal6, ip)) continue;
      if (isUla(ip, ULAPurpose.kubeSpan) || isUla(ip, ULAPurpose.sideroLink)) continue;
      if (isUla(ip, ULAPurpose.virtualSideroLink)) continue;
      if (!found.some((f) => compareBytes(f, ip) === 0)) found.push(ip);
    }
  }
  return found.sort(compareBytes).map(formatIp);
}

/**
 * siderolabs/net `FilterIPs` semantics (§4.3 step 3): the result starts empty and the rules
 * apply in order; `CIDR` (or a bare IP) appends the matching input addresses not yet in the
 * result, `!CIDR` removes matching addresses from the result. Rule order sets output order.
 */
export function filterIps(addresses: readonly string[], rules: readonly string[]): string[] {
  let result: string[] = [];
  const parsed = addresses.map((a) => ({ text: a, ip: parseIp(a) }));
  for (const rule of rules) {
    const negated = rule.startsWith("!");
    const cidr = parseCidr(negated ? rule.slice(1) : rule);
    if (negated) {
      result = result.filter((a) => !cidrContains(cidr, parseIp(a)));
    } else {
      for (const { text, ip } of parsed) {
        if (cidrContains(cidr, ip) && !result.includes(text)) result.push(text);
      }
    }
  }
  return result;
}

export interface AdvertisedEndpointsInput {
  /** Node addresses (canonical IP text), e.g. from {@link localAddresses}. */
  readonly addresses: readonly string[];
  /** `client_ip` from the discovery Hello, if any (§1.6, §4.3 step 2). */
  readonly publicIp?: string | null;
  /** `filters.endpoints` rules. */
  readonly filters: readonly string[];
  /** `extraAnnouncedEndpoints` (`ip:port`). */
  readonly extraEndpoints: readonly string[];
  /** The mesh listen port. */
  readonly port: number;
}

/** The advertised endpoint list, canonical `ip:port`, without duplicates (§4.3). */
export function advertisedEndpoints(input: AdvertisedEndpointsInput): string[] {
  const addresses = [...input.addresses];
  if (input.publicIp) {
    const ip = formatIp(parseIp(input.publicIp));
    if (!addresses.includes(ip)) addresses.push(ip);
  }
  const out = filterIps(addresses, input.filters).map((a) => formatIpPort(parseIp(a), input.port));
  for (const extra of input.extraEndpoints) {
    const e = canonicalIpPort(extra);
    if (!out.includes(e)) out.push(e);
  }
  return out;
}
