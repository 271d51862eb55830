/**
 * A NAT lab on the netns.ts harness (DESIGN.md "Test networks", reference/nat-relay.md §7):
 *
 * - `wan`: a namespace holding the "internet" bridge 198.18.10.0/24 — the discovery service
 *   and STUN on .254, the relay and its STUN on .253 (two STUN servers on different IPs tell
 *   endpoint-dependent mapping apart, §2.2).
 * - per NATed node i: a router namespace `r<i>` (WAN 198.18.10.<100+i> on the bridge, LAN
 *   198.18.<20+i>.1/24) and the node namespace `n<i>` (198.18.<20+i>.2, default route via its
 *   router). The router masquerades out of its WAN side — `masquerade` (endpoint-independent
 *   mapping, port-restricted filtering: a cone NAT) or `masquerade fully-random` (a new port per
 *   destination: symmetric) — and drops NEW traffic to itself from the WAN side, as home routers
 *   do (else conntrack keeps an entry for a peer's early packet that clashes with the later
 *   outbound mapping, §1.3). `udp: "blocked"` also drops forwarded UDP: only TCP gets out.
 * - per public node i: `n<i>` directly on the bridge at 198.18.10.<100+i>.
 */
import { must, NetnsLab } from "./netns.js";

export const WanBridge = "wsnbr0";
export const DiscoveryIp = "198.18.10.254";
export const RelayIp = "198.18.10.253";

export type NatKind = "cone" | "symmetric";

export interface NatNode {
  readonly i: number;
  /** Behind a NAT, or directly on the WAN bridge. */
  readonly nat: NatKind | "public";
  /** Drop forwarded UDP at the router (only TCP leaves the LAN). */
  readonly udpBlocked?: boolean;
}

export function wanIp(i: number): string {
  return `198.18.10.${100 + i}`;
}

/** The node's own address: its LAN address behind a NAT, its WAN address when public. */
export function nodeIp(n: NatNode): string {
  return n.nat === "public" ? wanIp(n.i) : `198.18.${20 + n.i}.2`;
}

export function lanSubnet(i: number): string {
  return `198.18.${20 + i}.0/24`;
}

export class NatLab extends NetnsLab {
  readonly wanNs = this.nsName("wan");

  constructor() {
    super("wsn");
  }

  nodeNs(i: number): string {
    return this.nsName(`n${i}`);
  }

  routerNs(i: number): string {
    return this.nsName(`r${i}`);
  }

  async setup(nodes: readonly NatNode[]): Promise<void> {
    await this.removeStale();
    await this.addNamespace("wan");
    await this.must(this.wanNs, ["ip", "link", "add", WanBridge, "type", "bridge"]);
    for (const ip of [DiscoveryIp, RelayIp]) {
      await this.must(this.wanNs, ["ip", "addr", "add", `${ip}/24`, "dev", WanBridge]);
    }
    await this.must(this.wanNs, ["ip", "link", "set", WanBridge, "up"]);
    for (const n of nodes) await this.addNode(n);
  }

  /** A veth pair from `ns` (named `inside`) to the WAN bridge. */
  private toWan(ns: string, inside: string, outside: string, ip: string): Promise<void> {
    return this.linkToBridge(ns, inside, this.wanNs, WanBridge, outside, `${ip}/24`);
  }

  async addNode(n: NatNode): Promise<void> {
    const node = await this.addNamespace(`n${n.i}`);
    if (n.nat === "public") {
      await this.toWan(node, "wan0", `wsn-p${n.i}`, wanIp(n.i));
      return;
    }
    const router = await this.addNamespace(`r${n.i}`);
    await this.toWan(router, "wan0", `wsn-w${n.i}`, wanIp(n.i));
    await must([
      "ip",
      "link",
      "add",
      "lan0",
      "netns",
      router,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      node,
    ]);
    await this.must(router, ["ip", "addr", "add", `198.18.${20 + n.i}.1/24`, "dev", "lan0"]);
    await this.must(router, ["ip", "link", "set", "lan0", "up"]);
    await this.must(node, ["ip", "addr", "add", `${nodeIp(n)}/24`, "dev", "eth0"]);
    await this.must(node, ["ip", "link", "set", "eth0", "up"]);
    await this.must(node, ["ip", "route", "add", "default", "via", `198.18.${20 + n.i}.1`]);
    await this.must(router, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await this.setRouterRules(n);
  }

  /** (Re)writes router i's nftables: NAT kind, WAN input firewall, optional UDP block. */
  async setRouterRules(n: NatNode): Promise<void> {
    const masq = n.nat === "symmetric" ? "masquerade fully-random" : "masquerade";
    const rules = `
table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" ${masq}; }
}
table inet filter {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan0" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ${n.udpBlocked ? 'iifname "lan0" meta l4proto udp drop' : ""}
    iifname "wan0" ct state new drop
  }
}
`;
    await this.exec(this.routerNs(n.i), ["nft", "delete", "table", "ip", "nat"]);
    await this.exec(this.routerNs(n.i), ["nft", "delete", "table", "inet", "filter"]);
    await this.must(this.routerNs(n.i), ["nft", "-f", "-"], { input: rules });
  }
}
