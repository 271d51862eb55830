/**
 * OS routing of a mesh node (reference/kubespan.md §4.6), through `ip` and `nft`:
 *
 * - the mesh interface gets the node's KubeSpan address as /64 (the ULA subnet is on-link, §3);
 * - table 180 holds default routes (v4 and v6) through the interface with the link MTU;
 * - a policy rule at priority 32500 sends packets marked `0x40/0x60` to table 180;
 * - nftables table `inet wirespan_<iface>` marks packets to the target set (every peer's allowed
 *   IPs except the on-link ULAs; only `up` peers' when `allowDownPeerBypass` is on) with 0x40 in
 *   prerouting (forwarded traffic) and output (local traffic), after clamping the TCP MSS to the
 *   MTU, and leaves packets already carrying the 0x20 mark alone.
 *
 * Loop avoidance: the target set contains the peers' underlay addresses, so the mesh's own UDP to
 * them must escape. KubeSpan relies on kernel WireGuard's socket mark 0x20 (SO_MARK). Node's dgram
 * cannot set SO_MARK, and the native setter is optional (bind/socket-mark.ts), so the output chain
 * also exempts locally generated UDP whose *source port* is the mesh listen port (§7.4's
 * alternative). That is exact for our socket and needs nothing from the process (uid, cgroup);
 * the only other traffic it exempts is another local socket bound to the same port, which cannot
 * exist while ours holds it (no SO_REUSEPORT).
 *
 * Everything made here is removed by {@link LinuxRouting.close}; a stale table from a crashed run
 * is replaced at setup.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseCidr } from "@wirespan/noise";
import type { MeshRouting } from "./mesh-node-options.js";

/** KubeSpan's routing table, rule priority and marks (§4.6). */
export const KubeSpanRoutingTable = 180;
export const KubeSpanRulePriority = 32500;
export const KubeSpanForceMark = 0x40;
export const KubeSpanMarkMask = 0x60;
/**
 * wirespan extension: a fallback table holding a route for every target prefix through the mesh
 * interface, consulted after `main` and `default`. A locally generated packet gets its first
 * route before nftables marks it (the output chain then re-routes it by mark); without any route
 * — an advertised network on a host without a default route — that first lookup fails with
 * ENETUNREACH and the packet never reaches the mark. Talos nodes always have a default route.
 */
export const FallbackRoutingTable = 181;
export const FallbackRulePriority = 32800;
/** The mark WireGuard puts on its own encrypted UDP (UAPI `fwmark`). */
export const KubeSpanWireGuardMark = 0x20;

export interface RoutingOptions {
  /** The mesh interface (already up, with its MTU). */
  readonly iface: string;
  /** KubeSpan address of this node (IPv6 text); configured as address/64. */
  readonly address: string;
  readonly mtu: number;
  /** Mesh UDP listen port (exempted from the tunnel, see the file comment). */
  readonly port: number;
  readonly log?: (message: string) => void;
}

/** Runs a command; rejects with its stderr on a non-zero exit. */
export function sh(argv: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0], argv.slice(1), { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(" ")}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    // A command that exits without reading its stdin must not crash us with EPIPE.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input ?? "");
  });
}

/** Throws a clear error when a tool is missing. */
async function requireTool(name: string, pkg: string): Promise<void> {
  try {
    await sh(["sh", "-c", `command -v ${name}`]);
  } catch {
    throw new Error(`${name} not found: install the ${pkg} package (scripts/setup.sh does)`);
  }
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

/** The nftables table name for an interface. */
export function nftTableName(iface: string): string {
  return `wirespan_${iface.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The nftables ruleset of §4.6 (see the file comment), as an `nft -f` script. */
export function nftRuleset(iface: string, port: number, mtu: number): string {
  const table = nftTableName(iface);
  const markMatch = `meta mark & ${hex(KubeSpanMarkMask)} == ${hex(KubeSpanWireGuardMark)}`;
  const force = `meta mark set meta mark & ${hex(~KubeSpanMarkMask >>> 0)} | ${hex(KubeSpanForceMark)}`;
  // MSS = MTU minus the IP and TCP headers (RFC 879 §3; 40 bytes for IPv4, 60 for IPv6).
  const mss4 = mtu - 40;
  const mss6 = mtu - 60;
  const clamp = (fam: "ip" | "ip6", set: string, mss: number) =>
    `    ${fam} daddr @${set} tcp flags & (syn | rst) == syn tcp option maxseg size > ${mss} tcp option maxseg size set ${mss}`;
  // Both chains end alike: traffic to a target gets its MSS clamped and the force mark.
  const toTargets = [
    clamp("ip", "targets4", mss4),
    clamp("ip6", "targets6", mss6),
    `    ip daddr @targets4 ${force} accept`,
    `    ip6 daddr @targets6 ${force} accept`,
  ];
  return [
    // Declaring then deleting makes the script idempotent (a leftover table is replaced).
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    "  set targets4 { type ipv4_addr; flags interval; }",
    "  set targets6 { type ipv6_addr; flags interval; }",
    "  chain prerouting {",
    "    type filter hook prerouting priority filter; policy accept;",
    `    ${markMatch} accept`,
    ...toTargets,
    "  }",
    "  chain outgoing {",
    "    type route hook output priority filter; policy accept;",
    `    ${markMatch} accept`,
    `    udp sport ${port} accept`,
    `    oifname "lo" accept`,
    ...toTargets,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The `nft -f` script replacing the target sets atomically. */
export function nftTargetsScript(iface: string, targets: readonly string[]): string {
  const table = nftTableName(iface);
  const v4: string[] = [];
  const v6: string[] = [];
  for (const t of targets) (parseCidr(t).family === 4 ? v4 : v6).push(t);
  const lines = [`flush set inet ${table} targets4`, `flush set inet ${table} targets6`];
  if (v4.length > 0) lines.push(`add element inet ${table} targets4 { ${v4.join(", ")} }`);
  if (v6.length > 0) lines.push(`add element inet ${table} targets6 { ${v6.join(", ")} }`);
  return `${lines.join("\n")}\n`;
}

function fallbackRuleArgs(family: "-4" | "-6", op: "add" | "del"): string[] {
  return [
    "ip",
    family,
    "rule",
    op,
    "priority",
    String(FallbackRulePriority),
    "table",
    String(FallbackRoutingTable),
  ];
}

function ruleArgs(family: "-4" | "-6"): string[] {
  return [
    "ip",
    family,
    "rule",
    "add",
    "fwmark",
    `${hex(KubeSpanForceMark)}/${hex(KubeSpanMarkMask)}`,
    "table",
    String(KubeSpanRoutingTable),
    "priority",
    String(KubeSpanRulePriority),
  ];
}

export class LinuxRouting implements MeshRouting {
  private closed = false;
  private savedRpFilterAll: number | null = null;
  /** Prefixes routed in the fallback table. */
  private fallback = new Set<string>();

  private constructor(private readonly opts: RoutingOptions) {}

  /** Configures the interface address, table 180, the policy rules and the nftables table. */
  static async setup(opts: RoutingOptions): Promise<LinuxRouting> {
    await requireTool("ip", "iproute2");
    await requireTool("nft", "nftables");
    const r = new LinuxRouting(opts);
    try {
      await r.apply();
    } catch (err) {
      await r.close();
      throw err;
    }
    return r;
  }

  private async apply(): Promise<void> {
    const { iface, address, mtu, port } = this.opts;
    // nodad: the address is usable at once (nobody else can hold it on a point-to-point TUN).
    await sh(["ip", "-6", "addr", "replace", `${address}/64`, "dev", iface, "nodad"]);
    this.relaxReversePathFilter();
    const table = String(KubeSpanRoutingTable);
    for (const fam of ["-4", "-6"] as const) {
      await sh([
        "ip",
        fam,
        "route",
        "replace",
        "default",
        "dev",
        iface,
        "table",
        table,
        "mtu",
        String(mtu),
      ]);
      await this.deleteRules(fam);
      await sh(ruleArgs(fam));
      await this.deleteFallbackRules(fam);
      await sh(fallbackRuleArgs(fam, "add"));
    }
    await sh(["nft", "-f", "-"], nftRuleset(iface, port, mtu));
    this.log(`routing: table ${table}, rule ${KubeSpanRulePriority}, nft ${nftTableName(iface)}`);
  }

  /**
   * Packets from peers' underlay addresses arrive on the mesh interface while the main table
   * routes those addresses elsewhere, and Linux drops any reverse-path-filtered packet that
   * arrives on an interface without an IPv4 address, loose mode included (fib_validate_source's
   * "last resort"). So the mesh interface gets rp_filter 0 — WireGuard's cryptokey routing is the
   * source check there: a packet is delivered only if its inner source is in the allowed IPs of
   * the peer that authenticated it (whitepaper §2). The effective value is max(all, iface): when
   * `all` is set, its value is first copied onto every other interface that has less (their
   * filtering is unchanged), then `all` is lowered to 0; close() restores it.
   */
  private relaxReversePathFilter(): void {
    const conf = "/proc/sys/net/ipv4/conf";
    const read = (name: string) => Number(readFileSync(`${conf}/${name}/rp_filter`, "utf8").trim());
    const write = (name: string, v: number) =>
      writeFileSync(`${conf}/${name}/rp_filter`, String(v));
    try {
      write(this.opts.iface, 0);
      const all = read("all");
      if (all !== 0) {
        for (const name of readdirSync(conf)) {
          if (name === "all" || name === "default" || name === this.opts.iface) continue;
          if (read(name) < all) write(name, all);
        }
        write("all", 0);
        this.savedRpFilterAll = all;
        this.log(`rp_filter: all=${all} moved onto each interface, ${this.opts.iface}=0`);
      }
    } catch (err) {
      this.log(`cannot relax rp_filter for ${this.opts.iface}: ${(err as Error).message}`);
    }
  }

  /** Removes every copy of our rule (a crashed run may have left one). */
  private async deleteRules(fam: "-4" | "-6"): Promise<void> {
    const del = ruleArgs(fam);
    del[3] = "del";
    for (let i = 0; i < 8; i++) {
      try {
        await sh(del);
      } catch {
        return;
      }
    }
  }

  private async deleteFallbackRules(fam: "-4" | "-6"): Promise<void> {
    for (let i = 0; i < 8; i++) {
      try {
        await sh(fallbackRuleArgs(fam, "del"));
      } catch {
        return;
      }
    }
  }

  async update(targets: readonly string[]): Promise<void> {
    if (this.closed) return;
    await sh(["nft", "-f", "-"], nftTargetsScript(this.opts.iface, targets));
    const wanted = new Set(targets);
    const batch: string[] = [];
    const t = String(FallbackRoutingTable);
    for (const p of this.fallback)
      if (!wanted.has(p)) batch.push(`route del ${p} dev ${this.opts.iface} table ${t}`);
    for (const p of wanted)
      if (!this.fallback.has(p)) batch.push(`route replace ${p} dev ${this.opts.iface} table ${t}`);
    if (batch.length > 0) await sh(["ip", "-force", "-batch", "-"], `${batch.join("\n")}\n`);
    this.fallback = wanted;
    this.log(`routing: ${targets.length} target prefixes`);
  }

  /**
   * Deletes the nftables table, both policy rules and the routes of table 180 and the fallback
   * table (best effort, idempotent).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.savedRpFilterAll !== null) {
      try {
        writeFileSync("/proc/sys/net/ipv4/conf/all/rp_filter", String(this.savedRpFilterAll));
      } catch {
        // best effort
      }
    }
    const table = nftTableName(this.opts.iface);
    await sh(["nft", "delete", "table", "inet", table]).catch(() => {});
    for (const fam of ["-4", "-6"] as const) {
      await this.deleteRules(fam);
      await this.deleteFallbackRules(fam);
      for (const t of [KubeSpanRoutingTable, FallbackRoutingTable]) {
        await sh(["ip", fam, "route", "flush", "table", String(t)]).catch(() => {});
      }
    }
  }

  private log(message: string): void {
    this.opts.log?.(message);
  }
}
