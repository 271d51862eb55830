/**
 * A mesh simulated in one process (issue #13 item 2): every node a real MeshNode — KubeSpan
 * controller, Device, discovery client — on a MemoryTun, the nodes joined by an in-memory
 * network (MemoryNetwork) with configurable one-way latency and loss, and the real discovery
 * service on loopback gRPC. Measures the time until every node sees every other `up`, the
 * handshake messages sent, heap per peer relation and CPU. Used by the CI test (30 nodes) and
 * `pnpm bench --mesh-sim` (200 nodes).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Endpoint } from "@wirespan/noise";
import type { Bind, PreparedBind, ReceiveHandler } from "../../src/bind/bind.js";
import { MemoryNetwork } from "../../src/bind/memory-bind.js";
import { DiscoveryServer } from "../../src/discovery/server.js";
import { type LocalNode, newCluster, startLocalNode } from "../../src/kubespan/local-mesh.js";

export interface MeshSimOptions {
  nodes: number;
  /** One-way latency of every link, ms. */
  latencyMs: number;
  /** Fraction of datagrams lost on every link (0–1). */
  loss: number;
  /** Give up after this long. */
  timeoutMs: number;
  /** Called with a progress line now and then. */
  progress?: (line: string) => void;
}

export interface MeshSimResult {
  nodes: number;
  converged: boolean;
  /** From the first node's start to every node seeing every other up, ms. */
  convergenceMs: number;
  /** Time to start all nodes (included in convergenceMs), ms. */
  startMs: number;
  /** Handshake initiations and responses sent over the network. */
  initiations: number;
  responses: number;
  /** Peer relations (nodes × (nodes − 1)) that were up at the end. */
  upPairs: number;
  /** Heap growth (after GC when --expose-gc) from before the first node to convergence, per peer relation, bytes. */
  heapPerPeer: number;
  /** The same for RSS. */
  rssPerPeer: number;
  /** CPU time (user + system) of the process until convergence, s. */
  cpuSeconds: number;
  /** Address claims refused (must stay 0: the simulated nodes claim only their own). */
  refusedClaims: number;
  /** Controller work summed over the nodes: reconcile passes, peers visited, spec rebuilds. */
  passes: number;
  peerVisits: number;
  specBuilds: number;
}

/** A link of the simulated network: latency and loss on every datagram a node sends. */
class SimLink implements Bind {
  constructor(
    private readonly inner: Bind,
    private readonly latencyMs: number,
    private readonly loss: number,
    private readonly counters: { initiations: number; responses: number },
  ) {}
  get port() {
    return this.inner.port;
  }
  prepare(port: number): Promise<PreparedBind> {
    return this.inner.prepare(port);
  }
  open(port: number) {
    return this.inner.open(port);
  }
  setMark(mark: number) {
    this.inner.setMark(mark);
  }
  onReceive(handler: ReceiveHandler) {
    this.inner.onReceive(handler);
  }
  close() {
    return this.inner.close();
  }
  send(to: Endpoint, data: Uint8Array) {
    // Message type, whitepaper §5.4: 1 initiation, 2 response.
    if (data[0] === 1) this.counters.initiations++;
    else if (data[0] === 2) this.counters.responses++;
    if (this.loss > 0 && Math.random() < this.loss) return;
    if (this.latencyMs <= 0) {
      this.inner.send(to, data);
      return;
    }
    const copy = data.slice(); // the caller reuses its buffer once send returns
    setTimeout(() => this.inner.send(to, copy), this.latencyMs);
  }
}

const gc = (globalThis as { gc?: () => void }).gc;

function memory(): { heap: number; rss: number } {
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** Every node sees every other up: the number of up relations. */
function upPairs(nodes: readonly LocalNode[]): number {
  let up = 0;
  for (const n of nodes) for (const s of n.node.peerStatuses()) if (s.state === "up") up++;
  return up;
}

/** What holds convergence back: peers known from discovery, and the Devices' top drop reasons. */
function diagnose(nodes: readonly LocalNode[]): string {
  let known = 0;
  const drops = new Map<string, number>();
  for (const n of nodes) {
    known += n.node.discovery?.affiliates.size ?? 0;
    for (const [why, count] of Object.entries(n.node.device.drops)) {
      if (count > 0) drops.set(why, (drops.get(why) ?? 0) + count);
    }
  }
  const top = [...drops]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([why, count]) => `${why} ${count}`)
    .join(", ");
  return `; affiliates known ${known}; drops: ${top || "none"}`;
}

export async function runMeshSim(opts: MeshSimOptions): Promise<MeshSimResult> {
  const progress = opts.progress ?? (() => {});
  const base = mkdtempSync(join(tmpdir(), "wsm-sim-"));
  const discovery = await DiscoveryServer.start({
    listen: "127.0.0.1:0",
    // Every simulated node reaches the service from 127.0.0.1: lift the per-IP limit.
    limits: { rateLimitPerSecond: 1e6, rateLimitBurst: 1e6 },
  });
  const cluster = newCluster();
  const network = new MemoryNetwork();
  const counters = { initiations: 0, responses: 0 };
  const nodes: LocalNode[] = [];
  const before = memory();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const want = opts.nodes * (opts.nodes - 1);
  try {
    for (let i = 0; i < opts.nodes; i++) {
      const address = `198.18.${(i >> 8) & 255}.${(i & 255) + 1}`;
      nodes.push(
        await startLocalNode({
          cluster,
          discovery: `http://${discovery.address}`,
          hostname: `sim${i}`,
          stateDir: join(base, `n${i}`),
          port: 51820,
          address,
          bind: new SimLink(network.bind(address), opts.latencyMs, opts.loss, counters),
          discoveryBackoff: { initialMs: 200, maxMs: 2_000 },
        }),
      );
    }
    const startMs = performance.now() - t0;
    progress(`mesh sim: ${opts.nodes} nodes started in ${(startMs / 1000).toFixed(1)} s`);
    let up = upPairs(nodes);
    let lastReport = 0;
    while (up < want && performance.now() - t0 < opts.timeoutMs) {
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        progress(`mesh sim: ${up}/${want} peer relations up${diagnose(nodes)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
      up = upPairs(nodes);
    }
    const convergenceMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const after = memory();
    return {
      nodes: opts.nodes,
      converged: up === want,
      convergenceMs,
      startMs,
      initiations: counters.initiations,
      responses: counters.responses,
      upPairs: up,
      heapPerPeer: (after.heap - before.heap) / want,
      rssPerPeer: (after.rss - before.rss) / want,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      refusedClaims: nodes.reduce((n, x) => n + x.node.refusedClaims, 0),
      passes: nodes.reduce((n, x) => n + x.node.reconcileWork.passes, 0),
      peerVisits: nodes.reduce((n, x) => n + x.node.reconcileWork.peerVisits, 0),
      specBuilds: nodes.reduce((n, x) => n + x.node.reconcileWork.specBuilds, 0),
    };
  } finally {
    for (const n of nodes) await n.node.close().catch(() => {});
    await discovery.close();
    rmSync(base, { recursive: true, force: true });
  }
}

export function formatMeshSim(r: MeshSimResult, o: MeshSimOptions): string {
  const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  return [
    `${r.nodes} nodes in one process, links ${o.latencyMs} ms one way, ${(o.loss * 100).toFixed(1)} % loss.`,
    "",
    "| nodes | converged | convergence | of which starting | initiations / responses sent | heap per peer | RSS per peer | CPU | reconcile passes | peers visited per pass | spec rebuilds |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| ${r.nodes} | ${r.converged ? "yes" : `no (${r.upPairs}/${r.nodes * (r.nodes - 1)} up)`} | ${(r.convergenceMs / 1000).toFixed(1)} s | ${(r.startMs / 1000).toFixed(1)} s | ${r.initiations} / ${r.responses} | ${kb(r.heapPerPeer)} | ${kb(r.rssPerPeer)} | ${r.cpuSeconds.toFixed(1)} s | ${r.passes} | ${(r.peerVisits / Math.max(1, r.passes)).toFixed(1)} | ${r.specBuilds} |`,
  ].join("\n");
}
