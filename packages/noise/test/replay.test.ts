import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REPLAY_WINDOW_SIZE, ReplayWindow } from "../src/replay.js";

// REJECT_AFTER_MESSAGES as the kernel and wireguard-go define it: 2^64 − 2^13 − 1 (reference §1.2).
const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;
const W = BigInt(REPLAY_WINDOW_SIZE);
const T_LIM = W + 1n;

/** Runs (counter, expected) pairs and returns the 1-based numbers of the cases that failed. */
function run(w: ReplayWindow, cases: Array<[bigint, boolean]>): number[] {
  const failed: number[] = [];
  cases.forEach(([n, expected], i) => {
    if (w.check(n, REJECT_AFTER_MESSAGES) !== expected) failed.push(i + 1);
  });
  return failed;
}

describe("ReplayWindow", () => {
  it("has WireGuard's window of 8128", () => {
    expect(REPLAY_WINDOW_SIZE).toBe(8128);
  });

  // The 34 numbered cases of the kernel's drivers/net/wireguard/selftest/counter.c
  // (also ported in wireguard-go replay/replay_test.go), re-expressed.
  it("passes the kernel counter selftest sequence (34 cases)", () => {
    const R = REJECT_AFTER_MESSAGES;
    const cases: Array<[bigint, boolean]> = [
      [0n, true], // 1
      [1n, true], // 2
      [1n, false], // 3
      [9n, true], // 4
      [8n, true], // 5
      [7n, true], // 6
      [7n, false], // 7
      [T_LIM, true], // 8
      [T_LIM - 1n, true], // 9
      [T_LIM - 1n, false], // 10
      [T_LIM - 2n, true], // 11
      [2n, true], // 12
      [2n, false], // 13
      [T_LIM + 16n, true], // 14
      [3n, false], // 15
      [T_LIM + 16n, false], // 16
      [T_LIM * 4n, true], // 17
      [T_LIM * 4n - (T_LIM - 1n), true], // 18
      [10n, false], // 19
      [T_LIM * 4n - T_LIM, false], // 20
      [T_LIM * 4n - (T_LIM + 1n), false], // 21
      [T_LIM * 4n - (T_LIM - 2n), true], // 22
      [T_LIM * 4n + 1n - T_LIM, false], // 23
      [0n, false], // 24
      [R, false], // 25
      [R - 1n, true], // 26
      [R, false], // 27
      [R - 1n, false], // 28
      [R - 2n, true], // 29
      [R + 1n, false], // 30
      [R + 2n, false], // 31
      [R - 2n, false], // 32
      [R - 3n, true], // 33
      [0n, false], // 34
    ];
    expect(cases).toHaveLength(34);
    expect(run(new ReplayWindow(), cases)).toEqual([]);
  });

  it("bulk 1: 1..W in order, then 0 once", () => {
    const cases: Array<[bigint, boolean]> = [];
    for (let i = 1n; i <= W; i++) cases.push([i, true]);
    cases.push([0n, true], [0n, false]);
    expect(run(new ReplayWindow(), cases)).toEqual([]);
  });

  it("bulk 2: 2..W+1 in order, then 1 accepted and 0 too old", () => {
    const cases: Array<[bigint, boolean]> = [];
    for (let i = 2n; i <= W + 1n; i++) cases.push([i, true]);
    cases.push([1n, true], [0n, false]);
    expect(run(new ReplayWindow(), cases)).toEqual([]);
  });

  it("bulk 3: W..0 in reverse", () => {
    const cases: Array<[bigint, boolean]> = [];
    for (let i = W + 1n; i-- > 0n; ) cases.push([i, true]);
    expect(run(new ReplayWindow(), cases)).toEqual([]);
  });

  it("bulk 4: W+1..1 in reverse, then 0 too old", () => {
    const cases: Array<[bigint, boolean]> = [];
    for (let i = W + 2n; i-- > 1n; ) cases.push([i, true]);
    cases.push([0n, false]);
    expect(run(new ReplayWindow(), cases)).toEqual([]);
  });

  it("bulk 5: W..1 in reverse, then W+1, then 0 too old", () => {
    const cases: Array<[bigint, boolean]> = [];
    for (let i = W + 1n; i-- > 1n; ) cases.push([i, true]);
    cases.push([W + 1n, true], [0n, false]);
    expect(run(new ReplayWindow(), cases)).toEqual([]);
  });

  it("bulk 6: W..1 in reverse, then 0, then W+1", () => {
    const cases: Array<[bigint, boolean]> = [];
    for (let i = W + 1n; i-- > 1n; ) cases.push([i, true]);
    cases.push([0n, true], [W + 1n, true]);
    expect(run(new ReplayWindow(), cases)).toEqual([]);
  });

  it("reset forgets everything", () => {
    const w = new ReplayWindow();
    expect(w.check(5n, REJECT_AFTER_MESSAGES)).toBe(true);
    expect(w.check(5n, REJECT_AFTER_MESSAGES)).toBe(false);
    w.reset();
    expect(w.check(5n, REJECT_AFTER_MESSAGES)).toBe(true);
  });

  it("crosses 2^53 (number to bigint path) without losing state", () => {
    const w = new ReplayWindow();
    const base = (1n << 53n) - 100n;
    for (let i = 0n; i < 200n; i += 2n) expect(w.check(base + i, REJECT_AFTER_MESSAGES)).toBe(true);
    for (let i = 0n; i < 200n; i++) {
      expect(w.check(base + i, REJECT_AFTER_MESSAGES)).toBe(i % 2n === 1n);
    }
  });

  it("agrees with a naive model (set of seen counters, max, window)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 60n }),
        fc.array(fc.bigInt({ min: -20_000n, max: 20_000n }), { maxLength: 300 }),
        (base, deltas) => {
          const w = new ReplayWindow();
          const seen = new Set<bigint>();
          let max = -1n;
          for (const d of deltas) {
            const c = base + d < 0n ? 0n : base + d;
            const fresh = !seen.has(c) && (max < 0n || c > max || max - c <= W);
            // The ring can only hold what the window covers; the model is exact within it.
            expect(w.check(c, REJECT_AFTER_MESSAGES)).toBe(fresh);
            if (fresh) {
              seen.add(c);
              if (c > max) max = c;
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
