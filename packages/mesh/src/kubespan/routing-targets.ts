/**
 * The §4.6 routing target set (reference/kubespan.md): which destinations the OS forces into the
 * mesh interface, and keeping {@link MeshRouting} in step with it (rewritten only on change).
 */
import { cidrContains, formatCidr, parseCidr, parseIp } from "@wirespan/noise";
import { IpSet } from "./ip-set.js";
import type { MeshRouting } from "./mesh-node-options.js";
import type { PeerSpec } from "./peer-spec.js";
import type { PeerState } from "./peer-status.js";

type Cidr = ReturnType<typeof parseCidr>;

/**
 * Every peer's allowed IPs except KubeSpan ULAs (on-link through the interface address, i.e.
 * inside `subnet`), for all peers when routing is forced (`allowDownPeerBypass: false`), else
 * only for peers that are up.
 */
export function routingTargets(
  peers: Iterable<{ readonly spec: PeerSpec; readonly status: { readonly state: PeerState } }>,
  subnet: string,
  force: boolean,
): string[] {
  const ula = parseCidr(subnet);
  const prefixes = [];
  for (const { spec, status } of peers) {
    if (!force && status.state !== "up") continue;
    for (const text of spec.allowedIPs) {
      const p = parseCidr(text);
      if (p.family === 6 && p.bits >= 64 && isInside(ula, p)) continue;
      prefixes.push(p);
    }
  }
  return IpSet.of(prefixes)
    .prefixes()
    .map((p) => formatCidr(p));
}

/** True when one of the allowed IPs contains `ip` (so a packet to it is routed to that peer). */
export function routesTo(allowedIPs: readonly string[], ip: string): boolean {
  let bytes: Uint8Array;
  try {
    bytes = parseIp(ip);
  } catch {
    return false;
  }
  return allowedIPs.some((c) => cidrContains(parseCidr(c), bytes));
}

function isInside(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.bits < outer.bits) return false;
  const full = Math.floor(outer.bits / 8);
  for (let i = 0; i < full; i++) if (outer.bytes[i] !== inner.bytes[i]) return false;
  const rest = outer.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (outer.bytes[full] & mask) === (inner.bytes[full] & mask);
}

/** Pushes the target set to the OS routing, only when it changed since the last push. */
export class RoutingSync {
  private last = "";

  constructor(private readonly routing: MeshRouting) {}

  async update(targets: readonly string[]): Promise<void> {
    const key = targets.join(",");
    if (key === this.last) return;
    await this.routing.update(targets);
    this.last = key;
  }
}
