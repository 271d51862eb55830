/**
 * The mesh nodes of a netns suite, on any lab whose nodes live in `nodeNs(i)` (MeshLab,
 * NatLab): one cluster (random id and secret), a temporary base directory with each node's
 * config and state, the discovery service, `wirespan up` per node, and the questions every
 * suite asks a node through its control socket (peer states, identity, ULA). What the suites
 * differ in — the kubespan section, extra CLI arguments, who runs a node — is a parameter.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  controlRequest,
  controlSocketPath,
} from "../../packages/mesh/src/kubespan/control-socket.js";
import type { ResourceRow } from "../../packages/mesh/src/kubespan/resources.js";
import { type Daemon, waitFor } from "./netns.js";

export const WIRESPAN = resolve(import.meta.dirname, "../../packages/mesh/bin/wirespan");

/** What a cluster needs of its lab. */
export interface ClusterLab {
  nodeNs(i: number): string;
  spawn(ns: string, argv: readonly string[], env?: NodeJS.ProcessEnv): Daemon;
  readonly paths: Set<string>;
}

export type ResourceKind = "peerstatuses" | "peerspecs" | "identities";

export interface StartOptions {
  /** Arguments after `wirespan up --config … --state-dir … --log-level verbose`. */
  readonly args?: readonly string[];
  /** A command the node runs under (setpriv to drop privileges). */
  readonly wrap?: readonly string[];
  /** The node's environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

export class MeshCluster {
  readonly id = randomBytes(32).toString("base64");
  readonly secret = randomBytes(32).toString("base64");
  /** Every node's config (nI.yaml) and state directory (nI/); removed with the lab. */
  readonly base: string;
  /** The running `wirespan up` of each node (the last one started). */
  readonly daemons = new Map<number, Daemon>();

  /**
   * `discovery` is the service's `host:port` as the nodes reach it. `dirMode` 0o755 lets a node
   * running as another user read its config.
   */
  constructor(
    private readonly lab: ClusterLab,
    private readonly discovery: string,
    dirMode = 0o700,
  ) {
    this.base = mkdtempSync(join(tmpdir(), "wsm-cluster-"));
    chmodSync(this.base, dirMode);
    lab.paths.add(this.base);
  }

  stateDir(i: number): string {
    return join(this.base, `n${i}`);
  }

  configPath(i: number): string {
    return join(this.base, `n${i}.yaml`);
  }

  /** Writes node i's config (hostname node-i) with `kubespan` as its kubespan section. */
  writeConfig(i: number, kubespan: Record<string, unknown>, mode = 0o600): string {
    mkdirSync(this.stateDir(i), { recursive: true });
    const file = this.configPath(i);
    writeFileSync(
      file,
      // JSON is YAML: the loader reads it as is.
      JSON.stringify({
        machine: { network: { hostname: `node-${i}`, kubespan } },
        cluster: {
          id: this.id,
          secret: this.secret,
          discovery: {
            enabled: true,
            registries: { service: { endpoint: `http://${this.discovery}` } },
          },
        },
      }),
      { mode },
    );
    return file;
  }

  /** Starts `wirespan up` for node i in its namespace. */
  startNode(i: number, opts: StartOptions = {}): Daemon {
    const up = [
      ...[WIRESPAN, "up", "--config", this.configPath(i), "--state-dir", this.stateDir(i)],
      ...["--log-level", "verbose", ...(opts.args ?? [])],
    ];
    const d = this.lab.spawn(this.lab.nodeNs(i), [...(opts.wrap ?? []), ...up], opts.env);
    this.daemons.set(i, d);
    return d;
  }

  /** Starts the discovery service in `ns` on this cluster's address and waits until it listens. */
  async startDiscovery(ns: string, timeout = 20_000): Promise<Daemon> {
    const d = this.lab.spawn(ns, [WIRESPAN, "discovery", "serve", "--listen", this.discovery]);
    await waitFor("discovery listening", () => d.output().includes("listening"), timeout);
    return d;
  }

  get(i: number, kind: ResourceKind): Promise<ResourceRow[]> {
    return controlRequest(controlSocketPath(this.stateDir(i)), { kind });
  }

  /** Node i's view: peer label → state. */
  async states(i: number): Promise<Map<string, string>> {
    const rows = await this.get(i, "peerstatuses");
    return new Map(rows.map((r) => [r.spec.label as string, r.spec.state as string]));
  }

  /** Whether every node of `nodes` sees every other one `up`. */
  async allUp(nodes: readonly number[]): Promise<boolean> {
    for (const i of nodes) {
      const s = await this.states(i);
      for (const j of nodes) if (j !== i && s.get(`node-${j}`) !== "up") return false;
    }
    return true;
  }

  /** Waits until node i answers on its control socket with its identity; returns its spec. */
  async identity(i: number, timeout = 60_000): Promise<Record<string, unknown>> {
    await waitFor(
      `node ${i} control socket`,
      async () => (await this.get(i, "identities")).length === 1,
      timeout,
    ).catch((e) => {
      throw new Error(`${e}\n${this.dump()}`);
    });
    return (await this.get(i, "identities"))[0].spec;
  }

  /** Node i's KubeSpan address (its ULA, without the /128). */
  async ula(i: number, timeout?: number): Promise<string> {
    return ((await this.identity(i, timeout)).address as string).replace(/\/128$/, "");
  }

  /** The output of the nodes' daemons (the last `tail` characters of each), for a failure. */
  dump(tail = 4_000): string {
    return [...this.daemons]
      .map(([i, d]) => `--- node ${i}\n${d.output().slice(-tail)}`)
      .join("\n");
  }
}
