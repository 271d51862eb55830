/**
 * Fuzz of the discovery service's snapshot reader (a file the service reads back at start; it
 * may be torn or edited): any text gives a registry state or the "snapshot is malformed" Error,
 * never a TypeError, and a state written by encodeSnapshot reads back equal.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RegistryState } from "../src/discovery/registry.js";
import { decodeSnapshot, encodeSnapshot } from "../src/discovery/snapshot.js";

function decodeOrNull(text: string): RegistryState | null {
  try {
    return decodeSnapshot(text);
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/^discovery snapshot is malformed: /);
    return null;
  }
}

const state: fc.Arbitrary<RegistryState> = fc.record({
  clusters: fc.array(
    fc.record({
      id: fc.string(),
      affiliates: fc.array(
        fc.record({
          id: fc.string(),
          data: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
          expiresAt: fc.integer(),
          endpoints: fc.array(
            fc.record({
              data: fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
              expiresAt: fc.integer(),
            }),
            { maxLength: 3 },
          ),
        }),
        { maxLength: 3 },
      ),
    }),
    { maxLength: 3 },
  ),
}) as fc.Arbitrary<RegistryState>;

/** Replaces one random node of a JSON tree with an arbitrary JSON value. */
function mutate(tree: unknown, pick: number, value: unknown): unknown {
  let n = 0;
  const walk = (v: unknown): unknown => {
    if (n++ === pick) return value;
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(tree);
}

describe("snapshot reader fuzz", () => {
  it("a version that cannot be converted to a string is refused cleanly (fast-check counterexample)", () => {
    const text = JSON.stringify({
      ...JSON.parse(encodeSnapshot({ clusters: [] })),
      version: { toString: 0 },
    });
    expect(decodeOrNull(text)).toBeNull();
  });

  it("arbitrary text and JSON: a state or the malformed-snapshot Error", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        decodeOrNull(text);
      }),
      { numRuns: 1000 },
    );
  });

  it("a written snapshot reads back; any one node replaced reads or is refused cleanly", () => {
    fc.assert(
      fc.property(state, fc.nat(200), fc.jsonValue(), (s, pick, value) => {
        const text = encodeSnapshot(s);
        const back = decodeSnapshot(text);
        expect(encodeSnapshot(back)).toBe(text);
        decodeOrNull(JSON.stringify(mutate(JSON.parse(text), pick, value)));
      }),
      { numRuns: 1000 },
    );
  });
});
