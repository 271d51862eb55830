/**
 * The in-process mesh simulation (support/mesh-sim.ts) at CI size: 30 real nodes — controller,
 * Device, discovery client — on an in-memory network with latency and loss, the real discovery
 * service on loopback. Every node must see every other up within 60 s; the 200-node run is
 * `pnpm bench --mesh-sim` (bench/RESULTS.md).
 */
import { describe, expect, it } from "vitest";
import { runMeshSim } from "./support/mesh-sim.js";

describe("mesh simulation", () => {
  it("30 nodes over a lossy in-memory network converge within 60 s", async () => {
    // The slow in-process watchers (one event loop with every Device) are not aborted at
    // start-up: the service keeps their waiting changes per affiliate (discovery/watch.ts).
    const r = await runMeshSim({
      nodes: 30,
      latencyMs: 5,
      loss: 0.01,
      timeoutMs: 60_000,
    });
    console.log(
      `mesh-sim 30: ${(r.convergenceMs / 1000).toFixed(1)} s, ${r.initiations} initiations, ` +
        `${(r.heapPerPeer / 1024).toFixed(1)} KB heap per peer, ${r.cpuSeconds.toFixed(1)} s CPU`,
    );
    expect(r.upPairs).toBe(30 * 29);
    expect(r.converged).toBe(true);
    expect(r.refusedClaims).toBe(0);
  }, 90_000);
});
