/**
 * `pnpm soak [--minutes N] [--seed S] [--nodes K] [--logs DIR]`: runs the soak with faults
 * (soak.ts) and exits 1 when any check failed. Needs root (network namespaces). A failing run
 * prints the command that replays its fault schedule.
 */
import { parseArgs } from "node:util";
import { runSoak } from "./soak.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "3" },
    seed: { type: "string" },
    nodes: { type: "string", default: "5" },
    logs: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: pnpm soak [--minutes N] [--seed S] [--nodes K] [--logs DIR]");
  process.exit(0);
}
const minutes = Number(values.minutes);
const nodes = Number(values.nodes);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
for (const [name, v, min] of [
  ["--minutes", minutes, 1],
  ["--nodes", nodes, 3],
  ["--seed", seed, 0],
] as const) {
  if (!Number.isInteger(v) || v < min) {
    console.error(`${name} must be an integer ≥ ${min}`);
    process.exit(2);
  }
}
if (process.getuid?.() !== 0) {
  console.error("the soak needs root (network namespaces, TUN devices, nftables)");
  process.exit(2);
}
const result = await runSoak({ minutes, seed, nodes, logDir: values.logs });
if (result.failures.length > 0) {
  console.log(`\nFAILED: ${result.failures.length} check failures; replay with`);
  console.log(`  pnpm soak --minutes ${minutes} --seed ${seed} --nodes ${nodes}`);
  process.exit(1);
}
console.log(`\nsoak passed: ${result.faults} faults in ${minutes} min, seed ${seed}`);
process.exit(0);
