/**
 * The resource check's statistics and verdicts: a leak (steady or stepwise) is called growing, a
 * flat or sawtooth series (GC) and one small step are not, and start-up is not judged.
 */
import { describe, expect, it } from "vitest";
import { judge, type Series } from "./resources.js";
import { mannKendallIncreasingP, normalCdf, senSlope } from "./trend.js";

function series(values: (t: number) => number, n = 40, every = 5): Series {
  const rss = Array.from({ length: n }, (_, k) => ({
    t: k * every,
    v: Math.round(values(k * every)),
  }));
  const fds = rss.map((s) => ({ ...s }));
  return {
    name: "node-1",
    pid: 1,
    startedAt: 0,
    rssKb: rss,
    fds,
    firstFdKinds: [],
    lastFdKinds: [],
  };
}

describe("trend statistics", () => {
  it("normal CDF matches known points", () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 3);
    expect(normalCdf(-2.326)).toBeCloseTo(0.01, 3);
  });

  it("Mann–Kendall: significant for a rising series, not for a flat or falling one", () => {
    expect(mannKendallIncreasingP(Array.from({ length: 20 }, (_, i) => i))).toBeLessThan(1e-6);
    expect(mannKendallIncreasingP(Array.from({ length: 20 }, () => 7))).toBe(1);
    expect(mannKendallIncreasingP(Array.from({ length: 20 }, (_, i) => -i))).toBe(1);
    // GC sawtooth: up and down around a level.
    const saw = Array.from({ length: 40 }, (_, i) => 100 + (i % 5) * 3);
    expect(mannKendallIncreasingP(saw)).toBeGreaterThan(0.05);
  });

  it("Theil–Sen ignores a spike", () => {
    const s = Array.from({ length: 21 }, (_, i) => ({ t: i, v: 2 * i + (i === 10 ? 500 : 0) }));
    expect(senSlope(s)).toBeCloseTo(2, 6);
  });
});

describe("resource verdicts", () => {
  const rssOnly = (s: Series) => judge([s]).find((v) => v.what === "RSS");

  it("calls a steady leak growing", () => {
    // 100 MB + 200 kB/s: 36 MB over three minutes.
    expect(rssOnly(series((t) => 100_000 + 200 * t))?.growing).toBe(true);
  });

  it("calls a flat series with GC sawtooth and noise flat", () => {
    const v = rssOnly(series((t) => 100_000 + ((t / 5) % 6) * 1_500 + Math.sin(t) * 400));
    expect(v?.growing).toBe(false);
  });

  it("calls one small step (a socket that stays) flat, a staircase of descriptors growing", () => {
    const step = judge([series((t) => (t > 100 ? 32 : 31))]).find((v) => v.what === "fds");
    expect(step?.growing).toBe(false);
    const stairs = judge([series((t) => 30 + Math.floor(t / 20))]).find((v) => v.what === "fds");
    expect(stairs?.growing).toBe(true);
  });

  it("does not judge start-up or a series too short to call", () => {
    const young = series((t) => 50_000 + 2_000 * t, 13);
    expect(judge([young])).toEqual([]);
  });
});
