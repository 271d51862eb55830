/**
 * NAT traversal in `pnpm start` (issue #12), in one process: a relay on loopback and two nodes
 * whose UDP to each other is dropped, as between two symmetric NATs. They reach each other
 * through the relay (PATH relayed); a ping crosses it; then the "NAT" opens, the path probes get
 * through, and PATH turns direct while the tunnel stays up.
 */
import { join } from "node:path";
import { type Endpoint, formatEndpoint } from "@wirespan/noise";
import type { Bind, PreparedBind, ReceiveHandler } from "../bind/bind.js";
import { clusterSecretKey } from "../kubespan/discovery-crypto.js";
import { identityAddressIp } from "../kubespan/identity.js";
import { type LocalNode, newCluster, startLocalNode } from "../kubespan/local-mesh.js";
import { icmp6EchoRequest, isIcmp6Echo } from "../kubespan/probe.js";
import { relayToken } from "../relay/protocol.js";
import { RelayServer } from "../relay/server.js";
import { watchTable } from "./demo-table.js";

const TimeoutMs = 30_000;

/** A UDP bind that drops everything to and from `blocked` addresses (a NAT that lets nothing in). */
class BlockingBind implements Bind {
  readonly blocked = new Set<string>();

  constructor(private readonly inner: Bind) {}

  get port(): number {
    return this.inner.port;
  }
  get batched(): boolean | undefined {
    return this.inner.batched;
  }
  prepare(port: number): Promise<PreparedBind> {
    return this.inner.prepare(port);
  }
  open(port: number): Promise<number> {
    return this.inner.open(port);
  }
  setMark(mark: number): void {
    this.inner.setMark(mark);
  }
  send(to: Endpoint, data: Uint8Array): void {
    if (!this.blocked.has(formatEndpoint(to))) this.inner.send(to, data);
  }
  onReceive(handler: ReceiveHandler): void {
    this.inner.onReceive((data, from) => {
      if (!this.blocked.has(formatEndpoint(from))) handler(data, from);
    });
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function paths(nodes: readonly LocalNode[], want: string): boolean {
  return nodes.every((n) => {
    const peers = n.node.peerStatuses();
    return peers.length === 1 && peers[0].state === "up" && peers[0].path?.path === want;
  });
}

/** Runs the NAT part of the demo; false (after saying why) when something did not happen. */
export async function runNatDemo(
  discoveryAddress: string,
  base: string,
  say: (line: string) => void,
): Promise<boolean> {
  const cluster = newCluster();
  const relay = await RelayServer.start({
    host: "127.0.0.1",
    port: 0,
    clusters: new Map([[cluster.id, relayToken(clusterSecretKey(cluster.secret))]]),
  });
  const binds: BlockingBind[] = [];
  const nodes: LocalNode[] = [];
  try {
    say(`\nNAT traversal: a relay on ${relay.url}, two nodes of another cluster that use it`);
    for (const name of ["node-a", "node-b"]) {
      nodes.push(
        await startLocalNode({
          cluster,
          discovery: `http://${discoveryAddress}`,
          hostname: name,
          stateDir: join(base, name),
          port: 0,
          relays: [relay.url],
          wrapBind: (b) => {
            const blocking = new BlockingBind(b);
            binds.push(blocking);
            return blocking;
          },
        }),
      );
    }
    // Each drops the other's UDP: no direct path, as between two symmetric NATs.
    binds[0].blocked.add(nodes[1].endpoint);
    binds[1].blocked.add(nodes[0].endpoint);
    say(`${nodes[0].endpoint} and ${nodes[1].endpoint} drop each other's UDP`);
    const t0 = Date.now();
    if (!(await watchTable(nodes, t0, say, () => paths(nodes, "relayed"), TimeoutMs))) {
      say("the two nodes did not come up through the relay");
      return false;
    }
    const [a, b] = nodes;
    const src = identityAddressIp(a.node.identity);
    const dst = identityAddressIp(b.node.identity);
    const delivered = new Promise<boolean>((resolve) => {
      b.tun.onWrite((packets) => {
        if (packets.some((p) => isIcmp6Echo(p, src, dst, 0x5758, 1))) resolve(true);
      });
      setTimeout(() => resolve(false), 5_000).unref();
    });
    const sent = Date.now();
    a.tun.inject([icmp6EchoRequest(src, dst, 0x5758, 1, new TextEncoder().encode("relayed"))]);
    if (!(await delivered)) {
      say("echo request did not cross the relay");
      return false;
    }
    say(
      `ping ${src} → ${dst} crossed the relay in ${Date.now() - sent} ms (${relay.stats.packets} datagrams relayed so far)`,
    );
    say("\nthe NATs open (UDP between the nodes passes again): path probes find the direct path");
    for (const bind of binds) bind.blocked.clear();
    const t1 = Date.now();
    if (!(await watchTable(nodes, t0, say, () => paths(nodes, "direct"), TimeoutMs))) {
      say("the path did not move to direct");
      return false;
    }
    say(`direct after ${Date.now() - t1} ms; the relay stays connected as the fallback`);
    return true;
  } finally {
    for (const n of nodes) await n.node.close();
    await relay.close();
  }
}
