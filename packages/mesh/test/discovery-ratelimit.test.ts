import { describe, expect, it } from "vitest";
import { RateLimiter } from "../src/discovery/ratelimit.js";

// Per-IP limit of the reference service (kubespan.md §1.3): 15 req/s, burst 60.

describe("discovery rate limiter", () => {
  it("grants the burst, then paced waits up to maxWait, then refuses without consuming", () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter(15, 60, 1000, () => clock.t);
    for (let i = 0; i < 60; i++) expect(limiter.reserve("ip")).toBe(0);
    const waits = Array.from({ length: 15 }, () => limiter.reserve("ip")!);
    expect(waits.map((w) => Math.round(w))).toEqual(
      Array.from({ length: 15 }, (_, i) => Math.round(((i + 1) * 1000) / 15)),
    );
    expect(limiter.reserve("ip")).toBeUndefined();
    expect(limiter.reserve("ip")).toBeUndefined();
    // Other addresses have their own bucket.
    expect(limiter.reserve("other")).toBe(0);
    // After the 15 reserved slots have passed, one token per 1/15 s is free again.
    clock.t += 1000 + 1000 / 15;
    expect(limiter.reserve("ip")).toBe(0);
  });

  it("forgets refilled buckets on gc", () => {
    const clock = { t: 0 };
    const limiter = new RateLimiter(15, 60, 0, () => clock.t);
    limiter.reserve("a");
    limiter.reserve("b");
    expect(limiter.size).toBe(2);
    clock.t += 100; // 1.5 tokens back: full again
    limiter.gc();
    expect(limiter.size).toBe(0);
  });
});
