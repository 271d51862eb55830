/**
 * `pnpm start`: a whole mesh in one process, without root. A discovery service and three nodes on
 * 127.0.0.1 (distinct UDP ports), each with an in-memory TUN instead of a kernel one and no OS
 * routing. Prints the peer status table every time it changes while the mesh converges, then
 * sends an ICMPv6 echo from one node's KubeSpan address to another's through the mesh and shows
 * it arriving. Then NAT traversal (demo-nat.ts): two nodes whose direct UDP is blocked meet
 * through a relay, and move to the direct path once it opens. Then the rootless part
 * (demo-proxy.ts): a page fetched through a SOCKS5 proxy and a WireGuard tunnel between two
 * userspace TCP/IP stacks. Exits 0 once all worked, 1 otherwise.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiscoveryServer } from "../discovery/server.js";
import { identityAddressIp } from "../kubespan/identity.js";
import { type LocalNode, newCluster, startLocalNode } from "../kubespan/local-mesh.js";
import { icmp6EchoRequest, isIcmp6Echo } from "../kubespan/probe.js";
import { runNatDemo } from "./demo-nat.js";
import { runProxyDemo } from "./demo-proxy.js";
import { watchTable } from "./demo-table.js";

const NodeCount = 3;
const TimeoutMs = 60_000;
const say = (line: string) => process.stdout.write(`${line}\n`);

function converged(nodes: readonly LocalNode[]): boolean {
  return nodes.every((n) => {
    const peers = n.node.peerStatuses();
    return peers.length === nodes.length - 1 && peers.every((p) => p.state === "up");
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const base = mkdtempSync(join(tmpdir(), "wirespan-demo-"));
  const discovery = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
  say(`discovery service on ${discovery.address}`);
  const cluster = newCluster();
  const nodes: LocalNode[] = [];
  try {
    for (let i = 0; i < NodeCount; i++) {
      const n = await startLocalNode({
        cluster,
        discovery: `http://${discovery.address}`,
        hostname: `node-${i + 1}`,
        stateDir: join(base, `node-${i + 1}`),
        port: 0,
      });
      nodes.push(n);
      say(
        `${n.config.hostname}: ${identityAddressIp(n.node.identity)} on ${n.endpoint}, key ${n.node.identity.publicKey}`,
      );
    }
    const done = watchTable(nodes, t0, say, () => converged(nodes), TimeoutMs);
    if (!(await done)) {
      say(`\nmesh did not converge within ${TimeoutMs / 1000} s`);
      return 1;
    }
    say(`\nmesh converged in ${Date.now() - t0} ms: every peer is up`);

    const [from, , to] = nodes;
    const src = identityAddressIp(from.node.identity);
    const dst = identityAddressIp(to.node.identity);
    const sent = Date.now();
    const delivered = new Promise<boolean>((resolve) => {
      to.tun.onWrite((packets) => {
        if (packets.some((p) => isIcmp6Echo(p, src, dst, 0x5757, 1))) resolve(true);
      });
      setTimeout(() => resolve(false), 5_000).unref();
    });
    say(`ping ${src} (${from.config.hostname}) → ${dst} (${to.config.hostname})`);
    from.tun.inject([icmp6EchoRequest(src, dst, 0x5757, 1, new TextEncoder().encode("wirespan"))]);
    if (!(await delivered)) {
      say("echo request was not delivered");
      return 1;
    }
    say(
      `echo request delivered to ${to.config.hostname}'s TUN in ${Date.now() - sent} ms, encrypted over UDP ${from.endpoint} → ${to.endpoint}`,
    );
    if (!(await runNatDemo(discovery.address, base, say))) return 1;
    if (!(await runProxyDemo(say))) {
      say("the page did not come through the proxy");
      return 1;
    }
    return 0;
  } finally {
    for (const n of nodes) await n.node.close();
    await discovery.close();
    rmSync(base, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
