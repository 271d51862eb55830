/**
 * The fault schedule: a seed replays exactly, every kind comes first, parameters stay in the
 * ranges the checks assume.
 */
import { describe, expect, it } from "vitest";
import { FaultKinds, makeSchedule } from "./schedule.js";

describe("fault schedule", () => {
  it("is the same for the same seed and differs for another", () => {
    const a = makeSchedule({ seed: 42, nodes: 5, minutes: 3 });
    expect(makeSchedule({ seed: 42, nodes: 5, minutes: 3 })).toEqual(a);
    expect(makeSchedule({ seed: 43, nodes: 5, minutes: 3 })).not.toEqual(a);
  });

  it("starts with one fault of every kind, so a short run covers them all", () => {
    for (const seed of [1, 2, 3, 1000]) {
      const first = makeSchedule({ seed, nodes: 5, minutes: 3 }).slice(0, FaultKinds.length);
      expect(new Set(first.map((f) => f.kind))).toEqual(new Set(FaultKinds));
    }
  });

  it("keeps targets and parameters in range", () => {
    for (const minutes of [3, 60]) {
      for (const f of makeSchedule({ seed: 9, nodes: 5, minutes, count: 500 })) {
        if (f.kind === "discovery-restart") expect(f.node).toBe(0);
        else expect(f.node).toBeGreaterThanOrEqual(1);
        expect(f.node).toBeLessThanOrEqual(5);
        expect(f.holdMs).toBeLessThanOrEqual(minutes >= 10 ? 90_000 : 12_000);
        if (f.kind === "mtu" && f.where === "tun") expect(f.amount).toBeGreaterThanOrEqual(1280);
        if (f.kind === "loss") expect([30, 60, 100]).toContain(f.amount);
        if (f.kind === "clock-step") expect(Math.abs(f.amount)).toBeGreaterThanOrEqual(5);
      }
    }
  });
});
