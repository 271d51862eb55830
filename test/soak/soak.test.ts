/**
 * The soak with faults in `pnpm test` (issue #13 item 3): three minutes of the seeded fault
 * schedule on a five-node mesh in network namespaces (soak.ts), failing on any broken check.
 * CI (CI=true) uses a fixed seed so a landing is judged on a reproducible schedule; developer runs
 * draw a new one. SOAK_SEED and SOAK_MINUTES override both; WIRESPAN_SOAK_LOGS=DIR keeps every
 * daemon's output, the timeline and any flagged frames. A failure prints the `pnpm soak` command
 * that replays it.
 */
import { expect, it } from "vitest";
import { describePrivileged, requireTool } from "../support/privileged.js";
import { FaultKinds } from "./schedule.js";
import { runSoak } from "./soak.js";

/** CI's schedule: every kind once, a forward clock step second (the harder direction). */
const CiSeed = 4;

describePrivileged("soak with faults: five wirespan nodes in network namespaces", () => {
  it("keeps every check green through the seeded fault schedule", async () => {
    for (const tool of ["ip", "nft", "tcpdump", "ping", "stdbuf"]) requireTool(tool);
    const seed = Number(
      process.env.SOAK_SEED ?? (process.env.CI ? CiSeed : Math.floor(Math.random() * 2 ** 31)),
    );
    const minutes = Number(process.env.SOAK_MINUTES ?? 3);
    const result = await runSoak({ minutes, seed, logDir: process.env.WIRESPAN_SOAK_LOGS });
    const replay = `replay: pnpm soak --minutes ${minutes} --seed ${seed}`;
    expect(
      result.failures.map((e) => e.text),
      replay,
    ).toEqual([]);
    expect(result.faults, replay).toBeGreaterThanOrEqual(FaultKinds.length);
  }, 900_000);
});
