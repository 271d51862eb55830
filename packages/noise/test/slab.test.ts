import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Slab } from "../src/slab.js";

describe("Slab", () => {
  it("hands out zeroed, private views: writing one never changes another", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 200 }), (lengths) => {
        const slab = new Slab();
        const views = lengths.map((n) => slab.alloc(n));
        views.forEach((v, i) => {
          expect(v.length).toBe(lengths[i]);
          expect(v.every((b) => b === 0)).toBe(true);
          v.fill((i % 255) + 1);
        });
        views.forEach((v, i) => {
          expect(v.every((b) => b === (i % 255) + 1)).toBe(true);
        });
      }),
      { numRuns: 50 },
    );
  });

  it("starts views 8-byte aligned", () => {
    const slab = new Slab();
    for (const n of [1, 3, 1452, 17, 0, 60]) expect(slab.alloc(n).byteOffset % 8).toBe(0);
  });
});
