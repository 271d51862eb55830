// @ts-check
/**
 * A KubeSpan-style mesh inside a program: a discovery service and two mesh nodes, each with an
 * in-memory TUN and a UDP socket on loopback. The nodes publish themselves (encrypted with the
 * cluster secret) to the discovery service, learn about each other, configure WireGuard peers
 * and report each other `up`. A real node uses MeshNode.start with a kernel TUN and routing
 * (`wirespan up` does exactly that).
 *
 *   node examples/mesh-node.mjs
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiscoveryServer, newCluster, startLocalNode } from "@wirespan/mesh";

const state = mkdtempSync(join(tmpdir(), "wirespan-example-"));
const discovery = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
const cluster = newCluster();
/** @type {import("@wirespan/mesh").LocalNode[]} */
const nodes = [];
try {
  for (const hostname of ["node-a", "node-b"]) {
    nodes.push(
      await startLocalNode({
        cluster,
        discovery: `http://${discovery.address}`,
        hostname,
        stateDir: join(state, hostname),
        port: 0,
      }),
    );
  }
  const deadline = Date.now() + 30_000;
  const allUp = () =>
    nodes.every((n) => {
      const peers = n.node.peerStatuses();
      return peers.length === nodes.length - 1 && peers.every((p) => p.state === "up");
    });
  while (!allUp()) {
    if (Date.now() > deadline) throw new Error("the mesh did not converge within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const n of nodes) {
    for (const p of n.node.peerStatuses()) {
      console.log(`${n.config.hostname} -> ${p.label}: ${p.state} via ${p.endpoint}`);
    }
  }
} finally {
  for (const n of nodes) await n.node.close();
  await discovery.close();
  rmSync(state, { recursive: true, force: true });
}
