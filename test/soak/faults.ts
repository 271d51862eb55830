/**
 * How each fault of the schedule is made and healed, with the tools an operator's world has:
 * kill -9 and a restart, `ip link` (link state, MTU), `ip addr` (a node moving to another
 * underlay address, i.e. roaming), nftables (bursts of loss: `numgen random mod 100 < P drop`,
 * DESIGN.md "Test networks"; this kernel has no netem) and a wall-clock step (clock.ts).
 */
import type { SoakMesh } from "./mesh.js";
import { MeshPort } from "./mesh.js";
import type { Fault } from "./schedule.js";

/** What the faults need from the soak: kills it has been told about, and restarts. */
export interface FaultContext {
  readonly mesh: SoakMesh;
  /** kill -9 of node `i` (0 = discovery), recorded as expected. */
  kill(i: number): Promise<void>;
  /** Starts node `i` (0 = discovery) again. */
  restart(i: number): Promise<void>;
}

/** nftables table of the loss bursts (the daemon's own table is `wirespan_<iface>`). */
const LossTable = "wss_loss";
const TunMtu = 1420;
const UnderlayMtu = 1500;

export interface ActiveFault {
  readonly fault: Fault;
  /** Undoes the fault (restart, link up, …); a no-op for one-off changes. */
  heal(): Promise<void>;
}

export async function inject(ctx: FaultContext, f: Fault): Promise<ActiveFault> {
  const { mesh } = ctx;
  const i = f.node;
  const heal = (fn: () => Promise<void>): ActiveFault => ({ fault: f, heal: fn });
  switch (f.kind) {
    case "kill":
    case "discovery-restart":
      await ctx.kill(i);
      return heal(() => ctx.restart(i));
    case "link-flap":
      await mesh.must(i, ["ip", "link", "set", mesh.veth(i), "down"]);
      return heal(async () => {
        await mesh.must(i, ["ip", "link", "set", mesh.veth(i), "up"]);
      });
    case "roam": {
      const from = mesh.underlay.get(i) as string;
      const last = Number(from.split(".")[3]);
      // Between 198.18.2.I and 198.18.2.(100+I): the same LAN, a new address, as after a DHCP
      // renumbering; the old one goes first, as when a host changes networks.
      const to = `198.18.2.${last > 100 ? last - 100 : last + 100}`;
      await mesh.must(i, ["ip", "addr", "del", `${from}/24`, "dev", mesh.veth(i)]);
      await mesh.must(i, ["ip", "addr", "add", `${to}/24`, "dev", mesh.veth(i)]);
      mesh.underlay.set(i, to);
      return heal(async () => {});
    }
    case "mtu": {
      const dev = f.where === "tun" ? mesh.iface(i) : mesh.veth(i);
      const normal = f.where === "tun" ? TunMtu : UnderlayMtu;
      await mesh.must(i, ["ip", "link", "set", dev, "mtu", String(f.amount)]);
      return heal(async () => {
        // The daemon may have been restarted meanwhile (a crash): its interface is then new.
        await mesh.must(i, ["ip", "link", "set", dev, "mtu", String(normal)]).catch(() => {});
      });
    }
    case "loss": {
      const drop = f.amount >= 100 ? "drop" : `numgen random mod 100 < ${f.amount} drop`;
      const script = [
        `table inet ${LossTable} {`,
        "  chain in { type filter hook input priority -300; policy accept;",
        `    udp dport ${MeshPort} ${drop}`,
        "  }",
        "  chain out { type filter hook output priority -300; policy accept;",
        `    udp sport ${MeshPort} ${drop}`,
        "  }",
        "}",
      ].join("\n");
      await mesh.lab.must(mesh.nodeNs(i), ["nft", "-f", "-"], { input: script });
      return heal(async () => {
        await mesh.must(i, ["nft", "delete", "table", "inet", LossTable]);
      });
    }
    case "clock-step": {
      const clock = mesh.clocks.get(i);
      if (!clock) throw new Error(`node ${i} has no steppable clock`);
      clock.step(f.amount);
      // Healed by stepping back: a second step, the other way (NTP correcting a bad step).
      return heal(async () => clock.step(-f.amount));
    }
  }
}
