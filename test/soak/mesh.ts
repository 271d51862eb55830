/**
 * The soaked mesh: N real `wirespan up` daemons, each in its own network namespace on a shared
 * bridge, and the discovery service (`wirespan discovery serve`) in the bridge's namespace —
 * the lab of test/support/mesh-netns.ts under its own prefix, so a soak and the mesh test can
 * run at the same time. Every node daemon runs with a steppable wall clock (clock.ts).
 *
 * It starts, kills and restarts processes and reads the nodes' peer statuses through their
 * control sockets; whether an exit was expected is the caller's business (onExit).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  controlRequest,
  controlSocketPath,
} from "../../packages/mesh/src/kubespan/control-socket.js";
import type { ResourceRow } from "../../packages/mesh/src/kubespan/resources.js";
import { DiscoveryIp, MeshLab, nodeVeth, runIface, underlayIp } from "../support/mesh-netns.js";
import { type Daemon, waitFor } from "../support/netns.js";
import { findLibfaketime, SteppableClock } from "./clock.js";

const root = resolve(import.meta.dirname, "../..");
const wirespan = join(root, "packages/mesh/bin/wirespan");
export const Prefix = "wss";
export const MeshPort = 51820;
const DiscoveryPort = 3000;
/**
 * How long a daemon may take to start: a harness limit, not a check (recoveries are measured
 * from the moment a restarted process is up). tsx compiles the sources at every start, which on
 * a loaded 2-core machine has taken over 30 s.
 */
const StartTimeoutMs = 180_000;
/** Output kept per daemon (the tail; long runs would grow without bound). */
const KeepOutput = 256 * 1024;

/** A running process of the mesh: node `i` (1-based) or the discovery service (0). */
export interface MeshProcess {
  readonly node: number;
  readonly daemon: Daemon;
  readonly startedAt: number;
}

export class SoakMesh {
  readonly lab = new MeshLab(Prefix);
  readonly nodes: readonly number[];
  readonly base = mkdtempSync(join(tmpdir(), "wss-soak-"));
  private readonly cluster = {
    id: randomBytes(32).toString("base64"),
    secret: randomBytes(32).toString("base64"),
  };
  private readonly running = new Map<number, MeshProcess>();
  readonly clocks = new Map<number, SteppableClock>();
  /** Each node's KubeSpan address, known once it has started. */
  readonly ulas = new Map<number, string>();
  /** Each node's current underlay address (roaming changes it). */
  readonly underlay = new Map<number, string>();
  /** Called when any mesh process ends (the soak decides whether that was expected). */
  onExit: (p: MeshProcess, code: number | string) => void = () => {};

  constructor(count: number) {
    this.nodes = Array.from({ length: count }, (_, k) => k + 1);
    this.lab.paths.add(this.base);
  }

  nodeNs(i: number): string {
    return this.lab.nodeNs(i);
  }

  get bridgeNs(): string {
    return this.lab.bridgeNs;
  }

  iface(i: number): string {
    return runIface(`k${i}`, Prefix);
  }

  veth(i: number): string {
    return nodeVeth(i);
  }

  private stateDir(i: number): string {
    return join(this.base, `n${i}`);
  }

  async setup(): Promise<void> {
    await this.lab.setup(this.nodes);
    const lib = findLibfaketime();
    for (const i of this.nodes) {
      this.lab.paths.add(`/var/run/wireguard/${this.iface(i)}.sock`);
      mkdirSync(this.stateDir(i), { recursive: true });
      this.clocks.set(i, new SteppableClock(join(this.base, `clock-n${i}`), lib));
      this.underlay.set(i, underlayIp(i));
      writeFileSync(
        join(this.base, `n${i}.yaml`),
        // JSON is YAML: the loader reads it as is.
        JSON.stringify({
          machine: {
            network: {
              hostname: `node-${i}`,
              kubespan: { enabled: true, interface: this.iface(i), port: MeshPort },
            },
          },
          cluster: {
            id: this.cluster.id,
            secret: this.cluster.secret,
            discovery: {
              enabled: true,
              registries: { service: { endpoint: `http://${DiscoveryIp}:${DiscoveryPort}` } },
            },
          },
        }),
        { mode: 0o600 },
      );
    }
  }

  private track(node: number, daemon: Daemon): MeshProcess {
    const p: MeshProcess = { node, daemon, startedAt: performance.now() };
    this.running.set(node, p);
    void daemon.exited.then((code) => {
      if (this.running.get(node) === p) this.running.delete(node);
      this.onExit(p, code);
    });
    return p;
  }

  async startDiscovery(): Promise<MeshProcess> {
    const d = this.lab.spawn(
      this.bridgeNs,
      [wirespan, "discovery", "serve", "--listen", `${DiscoveryIp}:${DiscoveryPort}`],
      process.env,
      KeepOutput,
    );
    const p = this.track(0, d);
    await waitFor("discovery listening", () => d.output().includes("listening"), StartTimeoutMs);
    return p;
  }

  startNode(i: number): MeshProcess {
    const argv = [wirespan, "up", "--config", join(this.base, `n${i}.yaml`)];
    argv.push("--state-dir", this.stateDir(i), "--log-level", "verbose");
    const clock = this.clocks.get(i) as SteppableClock;
    return this.track(i, this.lab.spawn(this.nodeNs(i), argv, clock.env(), KeepOutput));
  }

  /** kill -9 of node `i` (0 = the discovery service); resolves once it has exited. */
  async kill(i: number): Promise<void> {
    const p = this.running.get(i);
    if (p) await this.lab.kill(p.daemon);
  }

  process(i: number): MeshProcess | undefined {
    return this.running.get(i);
  }

  /** Nodes whose daemon is running. */
  live(): number[] {
    return this.nodes.filter((i) => this.running.has(i));
  }

  /** Node `i`'s view: peer label → state; null when it does not answer within 3 s. */
  async states(i: number): Promise<Map<string, string> | null> {
    const rows = await this.control(i, "peerstatuses");
    return rows && new Map(rows.map((r) => [r.spec.label as string, r.spec.state as string]));
  }

  async control(i: number, kind: "peerstatuses" | "identities"): Promise<ResourceRow[] | null> {
    const ask = controlRequest(controlSocketPath(this.stateDir(i)), { kind }).catch(() => null);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), 3_000);
    });
    const rows = await Promise.race([ask, late]);
    clearTimeout(timer);
    return rows;
  }

  /**
   * Waits until node `i` answers on its control socket (it is up: interface, Device, discovery
   * client) and learns its KubeSpan address.
   */
  async ready(i: number): Promise<void> {
    const rows = await waitFor(
      `node ${i} control socket`,
      async () => {
        const r = await this.control(i, "identities");
        return r && r.length === 1 ? r : null;
      },
      StartTimeoutMs,
      250,
    ).catch((e) => {
      throw new Error(`${e}\n${this.running.get(i)?.daemon.output().slice(-4000)}`);
    });
    this.ulas.set(i, ((rows as ResourceRow[])[0].spec.address as string).replace(/\/128$/, ""));
  }

  /** Runs a command in node `i`'s namespace; throws unless it exits 0. */
  must(i: number, argv: readonly string[]): Promise<string> {
    return this.lab.must(i === 0 ? this.bridgeNs : this.nodeNs(i), argv);
  }

  async teardown(): Promise<void> {
    this.onExit = () => {};
    await this.lab.teardown();
  }
}
