/**
 * A lab for multi-node mesh tests: one namespace `wsm-<run>-br` holding a bridge (and the
 * discovery service on 198.18.2.254), and one namespace per node `wsm-<run>-nI` joined to the
 * bridge by a veth pair, underlay 198.18.2.I/24. Nothing touches the root namespace's interfaces.
 *
 * `<run>` is this process's PID (base 36): namespace names and the UAPI socket names of the
 * interfaces (/var/run/wireguard/NAME.sock) are global, and several runs of the same test (other
 * helpers, CI) may overlap — with fixed names one run's setup deleted the other's namespaces.
 * Leftovers of runs whose process is gone are removed at setup.
 *
 * Reuses run/must/waitFor from netns.ts; cleanup kills every process in the lab's namespaces
 * before deleting them.
 */
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { type Daemon, must, type RunOptions, type RunResult, run, sleep } from "./netns.js";

/** This run's tag: the PID in base 36 (≤ 5 characters). */
export const RunId = process.pid.toString(36);
export const BridgeNs = `wsm-${RunId}-br`;
export const Bridge = "wsmbr0";
export const DiscoveryIp = "198.18.2.254";
const LabNs = /^wsm-([0-9a-z]+)-(br|n\d+)$/;

export function nodeNs(i: number): string {
  return `wsm-${RunId}-n${i}`;
}

/** An interface name unique to this run (≤ 15 characters for tags of up to 4). */
export function runIface(tag: string): string {
  return `wsm${RunId}${tag}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function underlayIp(i: number): string {
  return `198.18.2.${i}`;
}

export class MeshLab {
  private readonly daemons = new Set<Daemon>();
  readonly namespaces: string[] = [BridgeNs];
  readonly paths = new Set<string>();

  async setup(nodes: readonly number[]): Promise<void> {
    await this.teardown();
    await this.removeStale();
    await must(["ip", "netns", "add", BridgeNs]);
    await this.must(BridgeNs, ["ip", "link", "set", "lo", "up"]);
    await this.must(BridgeNs, ["ip", "link", "add", Bridge, "type", "bridge"]);
    await this.must(BridgeNs, ["ip", "addr", "add", `${DiscoveryIp}/24`, "dev", Bridge]);
    await this.must(BridgeNs, ["ip", "link", "set", Bridge, "up"]);
    for (const i of nodes) await this.addNode(i);
  }

  async addNode(i: number): Promise<void> {
    const ns = nodeNs(i);
    this.namespaces.push(ns);
    await must(["ip", "netns", "add", ns]);
    const inside = `wsm-v${i}`;
    const outside = `wsm-b${i}`;
    await must([
      "ip",
      "link",
      "add",
      inside,
      "netns",
      ns,
      "type",
      "veth",
      "peer",
      "name",
      outside,
      "netns",
      BridgeNs,
    ]);
    await this.must(BridgeNs, ["ip", "link", "set", outside, "master", Bridge, "up"]);
    await this.must(ns, ["ip", "link", "set", "lo", "up"]);
    await this.must(ns, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
    await this.must(ns, ["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
    await this.must(ns, ["ip", "addr", "add", `${underlayIp(i)}/24`, "dev", inside]);
    await this.must(ns, ["ip", "link", "set", inside, "up"]);
  }

  exec(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(["ip", "netns", "exec", ns, ...argv], opts);
  }

  must(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    return must(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /** Spawns a long-running process inside `ns`; killed at teardown. */
  spawn(ns: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Daemon {
    const child = spawn("ip", ["netns", "exec", ns, ...argv], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => {
      out += String(d);
    });
    child.stderr?.on("data", (d) => {
      out += String(d);
    });
    const exited = new Promise<number | string>((resolve) => {
      child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
    });
    const daemon: Daemon = { child, output: () => out, exited };
    this.daemons.add(daemon);
    void exited.then(() => this.daemons.delete(daemon));
    return daemon;
  }

  /** SIGKILL (a crash) or SIGTERM with a grace period. */
  async stop(d: Daemon, signal: "SIGKILL" | "SIGTERM" = "SIGTERM", grace = 8_000): Promise<void> {
    if (d.child.exitCode !== null || d.child.signalCode !== null) return;
    d.child.kill(signal);
    const t = setTimeout(() => d.child.kill("SIGKILL"), grace);
    await d.exited;
    clearTimeout(t);
  }

  /** Deletes the namespaces of earlier runs whose test process no longer exists. */
  private async removeStale(): Promise<void> {
    const list = await run(["ip", "netns", "list"]);
    for (const line of list.stdout.split("\n")) {
      const name = line.split(" ")[0];
      const m = LabNs.exec(name);
      if (!m || m[1] === RunId || processAlive(Number.parseInt(m[1], 36))) continue;
      await this.killInside(name);
      await run(["ip", "netns", "del", name]);
    }
  }

  private async killInside(ns: string): Promise<void> {
    const pids = await run(["ip", "netns", "pids", ns]);
    if (pids.code !== 0) return;
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  async teardown(): Promise<void> {
    for (const d of [...this.daemons]) d.child.kill("SIGKILL");
    const all = new Set([...this.namespaces, BridgeNs, ...[1, 2, 3, 4, 5].map(nodeNs)]);
    for (const ns of all) await this.killInside(ns);
    for (const d of [...this.daemons]) await Promise.race([d.exited, sleep(2_000)]);
    for (const ns of all) {
      if (existsSync(`/run/netns/${ns}`)) await run(["ip", "netns", "del", ns]);
    }
    for (const p of this.paths) rmSync(p, { recursive: true, force: true });
  }
}
