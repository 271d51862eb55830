/**
 * A mesh of TUN nodes and a netstack node: nodes 1 and 2 run `wirespan up` as root with TUN
 * devices; node 3 runs `wirespan up --netstack` as `nobody` (no TUN, no CAP_NET_ADMIN), with a
 * SOCKS5 proxy on its loopback and an inbound TCP forward to a local service. All in namespaces
 * on a bridge (test/support/mesh-netns.ts) with a discovery service.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { controlRequest, controlSocketPath } from "../packages/mesh/src/kubespan/control-socket.js";
import type { ResourceRow } from "../packages/mesh/src/kubespan/resources.js";
import { DiscoveryIp, MeshLab, runIface } from "./support/mesh-netns.js";
import { type Daemon, must, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";

const root = resolve(import.meta.dirname, "..");
const wirespan = join(root, "packages/mesh/bin/wirespan");
const PEER = join(root, "test/support/proxy-peer.mjs");
const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
const Nodes = [1, 2, 3] as const;
const NetstackIndex = 3;
const SOCKS = 1080;
const FORWARD = 8000;
const LOCAL = 9000;

describePrivileged("mesh of TUN nodes and a rootless --netstack node", () => {
  const lab = new MeshLab();
  const cluster = {
    id: randomBytes(32).toString("base64"),
    secret: randomBytes(32).toString("base64"),
  };
  let base = "";
  const daemons = new Map<number, Daemon>();
  const ulas = new Map<number, string>();
  const stateDir = (i: number) => join(base, `n${i}`);
  const get = (i: number, kind: "peerstatuses" | "identities") =>
    controlRequest(controlSocketPath(stateDir(i)), { kind });

  function writeConfig(i: number): string {
    const kubespan: Record<string, unknown> = {
      enabled: true,
      interface: runIface(`n${i}`),
      port: 51820,
    };
    if (i === NetstackIndex) {
      kubespan.netstack = {
        enabled: true,
        socks5: `127.0.0.1:${SOCKS}`,
        forwards: [{ protocol: "tcp", port: FORWARD, target: `127.0.0.1:${LOCAL}` }],
      };
    }
    const file = join(base, `n${i}.yaml`);
    writeFileSync(
      file,
      JSON.stringify({
        machine: { network: { hostname: `node-${i}`, kubespan } },
        cluster: {
          ...cluster,
          discovery: {
            enabled: true,
            registries: { service: { endpoint: `http://${DiscoveryIp}:3000` } },
          },
        },
      }),
      { mode: 0o644 },
    );
    return file;
  }

  beforeAll(async () => {
    for (const tool of ["ip", "wg", "curl", "setpriv"]) requireTool(tool);
    base = mkdtempSync(join(tmpdir(), "wsm-ns-"));
    chmodSync(base, 0o755);
    lab.paths.add(base);
    await lab.setup(Nodes);
    for (const i of Nodes) {
      mkdirSync(stateDir(i), { recursive: true });
      writeConfig(i);
      lab.paths.add(`/var/run/wireguard/${runIface(`n${i}`)}.sock`);
    }
    await must(["chown", "65534:65534", stateDir(NetstackIndex)]);
    const discovery = lab.spawn(lab.bridgeNs, [
      wirespan,
      "discovery",
      "serve",
      "--listen",
      `${DiscoveryIp}:3000`,
    ]);
    await waitFor("discovery listening", () => discovery.output().includes("listening"), 20_000);
    for (const i of Nodes) {
      const up = [
        wirespan,
        "up",
        "--config",
        join(base, `n${i}.yaml`),
        "--state-dir",
        stateDir(i),
        "--log-level",
        "verbose",
      ];
      daemons.set(
        i,
        lab.spawn(
          lab.nodeNs(i),
          i === NetstackIndex ? [...NOBODY, ...up, "--netstack", "--uapi-dir", stateDir(i)] : up,
        ),
      );
    }
    for (const i of Nodes) {
      await waitFor(
        `node ${i} control socket`,
        async () => (await get(i, "identities")).length === 1,
        60_000,
      ).catch((e) => {
        throw new Error(
          `${e}\n${[...daemons].map(([k, d]) => `--- node ${k}\n${d.output()}`).join("\n")}`,
        );
      });
      ulas.set(i, ((await get(i, "identities"))[0].spec.address as string).replace(/\/128$/, ""));
    }
    // Services: an HTTP origin on node 1's KubeSpan address; node 3's local echo (as nobody).
    lab.spawn(lab.nodeNs(1), ["node", PEER, "http", ulas.get(1) as string, "80"]);
    lab.spawn(lab.nodeNs(NetstackIndex), [
      ...NOBODY,
      "node",
      PEER,
      "echo",
      "127.0.0.1",
      String(LOCAL),
    ]);
  }, 150_000);

  afterAll(async () => {
    for (const d of daemons.values()) await lab.stop(d, 3_000).catch(() => {});
    await lab.teardown();
  }, 60_000);

  it("brings every peer up on TUN and netstack nodes alike", async () => {
    const allUp = async () => {
      for (const i of Nodes) {
        const rows: ResourceRow[] = await get(i, "peerstatuses");
        const states = new Map(rows.map((r) => [r.spec.label, r.spec.state]));
        for (const j of Nodes) if (j !== i && states.get(`node-${j}`) !== "up") return false;
      }
      return true;
    };
    await waitFor("all peers up", allUp, 30_000, 250).catch((e) => {
      throw new Error(`${e}\n${daemons.get(NetstackIndex)?.output().slice(-3000)}`);
    });
  }, 40_000);

  it("reports peer status in the same form on both kinds of node", async () => {
    const shape = (rows: ResourceRow[]) =>
      rows.map((r) => Object.keys(r.spec).sort().join(",")).sort();
    const tun: ResourceRow[] = await get(1, "peerstatuses");
    const ns: ResourceRow[] = await get(NetstackIndex, "peerstatuses");
    expect(shape(ns)).toEqual(shape(tun));
    expect(ns[0].spec.state).toBe("up");
  });

  it("answers pings at the netstack node's KubeSpan address", async () => {
    const r = await lab.exec(lab.nodeNs(1), [
      "ping",
      "-6",
      "-c",
      "2",
      "-i",
      "0.2",
      "-W",
      "2",
      ulas.get(NetstackIndex) as string,
    ]);
    expect(r.code, r.stdout).toBe(0);
  });

  it("reaches a TUN node's service through the netstack node's SOCKS5 proxy", async () => {
    const r = await lab.exec(lab.nodeNs(NetstackIndex), [
      ...NOBODY,
      "curl",
      "-sS",
      "--max-time",
      "15",
      "--socks5-hostname",
      `127.0.0.1:${SOCKS}`,
      `http://[${ulas.get(1)}]/via-mesh`,
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("GET /via-mesh");
  });

  it("hands a TUN node's connection to the netstack node's local service (inbound forward)", async () => {
    const r = await lab.exec(
      lab.nodeNs(2),
      ["node", PEER, "bulk", ulas.get(NetstackIndex) as string, String(FORWARD), "2000000"],
      {
        timeout: 30_000,
      },
    );
    expect(r.stderr).toBe("");
    const res = JSON.parse(r.stdout);
    expect(res.received).toBe(2_000_000);
    expect(res.receivedSha).toBe(res.sentSha);
  }, 40_000);
});
