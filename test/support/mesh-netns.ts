/**
 * A lab for multi-node mesh tests, on the netns.ts harness: one namespace `wsm-<run>-br` holding
 * a bridge (and the discovery service on 198.18.2.254), and one namespace per node
 * `wsm-<run>-nI` joined to the bridge by a veth pair, underlay 198.18.2.I/24. Nothing touches
 * the root namespace's interfaces. Interface names that are global (the UAPI socket of an
 * interface is /var/run/wireguard/NAME.sock) carry the run's tag too (runIface).
 */
import { NetnsLab, RunId } from "./netns.js";

const Prefix = "wsm";
export const Bridge = "wsmbr0";
export const DiscoveryIp = "198.18.2.254";

export function underlayIp(i: number): string {
  return `198.18.2.${i}`;
}

/** An interface name unique to this run (≤ 15 characters for tags of up to 4). */
export function runIface(tag: string, prefix = Prefix): string {
  return `${prefix}${RunId}${tag}`;
}

/** Node `i`'s end of its veth pair to the bridge (inside its namespace). */
export function nodeVeth(i: number): string {
  return `wsm-v${i}`;
}

export class MeshLab extends NetnsLab {
  /** The namespace of the bridge and the discovery service. */
  readonly bridgeNs = this.nsName("br");

  /** `prefix` separates suites that may run at the same time (namespace and interface names). */
  constructor(prefix = Prefix) {
    super(prefix);
  }

  nodeNs(i: number): string {
    return this.nsName(`n${i}`);
  }

  async setup(nodes: readonly number[]): Promise<void> {
    await this.removeStale();
    await this.addNamespace("br");
    await this.must(this.bridgeNs, ["ip", "link", "add", Bridge, "type", "bridge"]);
    await this.must(this.bridgeNs, ["ip", "addr", "add", `${DiscoveryIp}/24`, "dev", Bridge]);
    await this.must(this.bridgeNs, ["ip", "link", "set", Bridge, "up"]);
    for (const i of nodes) await this.addNode(i);
  }

  async addNode(i: number): Promise<void> {
    const ns = await this.addNamespace(`n${i}`);
    const inside = nodeVeth(i);
    const outside = `wsm-b${i}`;
    await this.linkToBridge(ns, inside, this.bridgeNs, Bridge, outside, `${underlayIp(i)}/24`);
  }
}
