/**
 * `pnpm bench --mesh-sim`: the in-process mesh simulation (packages/mesh/test/support/
 * mesh-sim.ts) at 200 nodes. Alone: `pnpm bench:mesh-sim [nodes] [latencyMs] [loss]`.
 */
import {
  formatMeshSim,
  type MeshSimOptions,
  runMeshSim,
} from "../packages/mesh/test/support/mesh-sim.js";

export async function runMeshSimBench(
  progress: (line: string) => void,
  nodes = 200,
  latencyMs = 5,
  loss = 0.01,
): Promise<string> {
  const opts: MeshSimOptions = { nodes, latencyMs, loss, timeoutMs: 300_000, progress };
  return formatMeshSim(await runMeshSim(opts), opts);
}

if (process.argv[1] === import.meta.filename) {
  const [nodes, latency, loss] = process.argv.slice(2).map(Number);
  console.log(
    await runMeshSimBench((l) => console.error(l), nodes || 200, latency ?? 5, loss ?? 0.01),
  );
  process.exit(0);
}
