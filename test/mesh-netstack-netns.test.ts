/**
 * A mesh of TUN nodes and a netstack node: nodes 1 and 2 run `wirespan up` as root with TUN
 * devices; node 3 runs `wirespan up --netstack` as `nobody` (no TUN, no CAP_NET_ADMIN), with a
 * SOCKS5 proxy on its loopback and an inbound TCP forward to a local service. All in namespaces
 * on a bridge (test/support/mesh-netns.ts) with a discovery service.
 */
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ResourceRow } from "../packages/mesh/src/kubespan/resources.js";
import { MeshCluster } from "./support/mesh-cluster.js";
import { DiscoveryIp, MeshLab, runIface } from "./support/mesh-netns.js";
import { must, waitFor } from "./support/netns.js";
import { describePrivileged, requireTool } from "./support/privileged.js";

const root = resolve(import.meta.dirname, "..");
const PEER = join(root, "test/support/proxy-peer.mjs");
const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
const Nodes = [1, 2, 3] as const;
const NetstackIndex = 3;
const SOCKS = 1080;
const FORWARD = 8000;
const LOCAL = 9000;

describePrivileged("mesh of TUN nodes and a rootless --netstack node", () => {
  const lab = new MeshLab();
  let mesh: MeshCluster;
  const ulas = new Map<number, string>();

  function kubespanOf(i: number): Record<string, unknown> {
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
    return kubespan;
  }

  beforeAll(async () => {
    for (const tool of ["ip", "wg", "curl", "setpriv"]) requireTool(tool);
    // 0755 and world-readable configs: the netstack node runs as nobody.
    mesh = new MeshCluster(lab, `${DiscoveryIp}:3000`, 0o755);
    await lab.setup(Nodes);
    for (const i of Nodes) {
      mesh.writeConfig(i, kubespanOf(i), 0o644);
      lab.paths.add(`/var/run/wireguard/${runIface(`n${i}`)}.sock`);
    }
    await must(["chown", "65534:65534", mesh.stateDir(NetstackIndex)]);
    await mesh.startDiscovery(lab.bridgeNs);
    for (const i of Nodes) {
      if (i === NetstackIndex) {
        const args = ["--netstack", "--uapi-dir", mesh.stateDir(i)];
        mesh.startNode(i, { wrap: NOBODY, args });
      } else mesh.startNode(i);
    }
    for (const i of Nodes) ulas.set(i, await mesh.ula(i));
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
    for (const d of mesh?.daemons.values() ?? []) await lab.stop(d, 3_000).catch(() => {});
    await lab.teardown();
  }, 60_000);

  it("brings every peer up on TUN and netstack nodes alike", async () => {
    await waitFor("all peers up", () => mesh.allUp(Nodes), 30_000, 250).catch((e) => {
      throw new Error(`${e}\n${mesh.daemons.get(NetstackIndex)?.output().slice(-3000)}`);
    });
  }, 40_000);

  it("reports peer status in the same form on both kinds of node", async () => {
    const shape = (rows: ResourceRow[]) =>
      rows.map((r) => Object.keys(r.spec).sort().join(",")).sort();
    const tun = await mesh.get(1, "peerstatuses");
    const ns = await mesh.get(NetstackIndex, "peerstatuses");
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
