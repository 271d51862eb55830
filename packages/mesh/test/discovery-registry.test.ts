import { status } from "@grpc/grpc-js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveLimits } from "../src/discovery/limits.js";
import { Refusal } from "../src/discovery/refusal.js";
import { type ClusterEvent, Registry } from "../src/discovery/registry.js";

// Behaviour from /work/shared/reference/kubespan.md §1.3–§1.5; limits from §1.3.
const MIN = 60_000;
const b = (s: string) => Buffer.from(s);

function setup(limits = {}) {
  const clock = { t: 1_000_000 };
  const registry = new Registry(resolveLimits(limits), () => clock.t);
  const events: ClusterEvent[] = [];
  return {
    clock,
    registry,
    events,
    watch: (c = "c") => registry.subscribe(c, { notify: (e) => events.push(e) }),
  };
}

function refusal(fn: () => unknown): status | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof Refusal) return error.code;
    throw error;
  }
  return undefined;
}

/** Affiliate `a` of cluster `c` reports data `d` and one endpoint, for 10 minutes. */
const reportA = (registry: Registry, endpoint: string) =>
  registry.update({
    clusterId: "c",
    affiliateId: "a",
    data: b("d"),
    endpoints: [b(endpoint)],
    ttlMs: 10 * MIN,
  });

describe("discovery registry: TTL", () => {
  it("keeps an affiliate until its TTL passes, then GC removes it and tells watchers", () => {
    const { clock, registry, events, watch } = setup();
    registry.update({ clusterId: "c", affiliateId: "a", data: b("d"), ttlMs: 5 * MIN });
    watch();
    clock.t += 5 * MIN - 1;
    expect(registry.gc().affiliates).toBe(0);
    expect(registry.list("c").map((a) => a.id)).toEqual(["a"]);
    clock.t += 1;
    expect(registry.gc().affiliates).toBe(1);
    expect(registry.list("c")).toEqual([]);
    expect(events).toEqual([{ kind: "delete", id: "a" }]);
  });

  it("List never returns an expired affiliate even before the periodic GC runs", () => {
    const { clock, registry } = setup();
    registry.update({ clusterId: "c", affiliateId: "a", data: b("d"), ttlMs: MIN });
    clock.t += MIN;
    expect(registry.list("c")).toEqual([]);
    expect(registry.expired.affiliates).toBe(1);
  });

  it("refreshing with data resets the expiration; an endpoint-only update only extends it", () => {
    const { clock, registry } = setup();
    registry.update({ clusterId: "c", affiliateId: "a", data: b("d"), ttlMs: 10 * MIN });
    // Endpoint-only update from another node with a shorter TTL does not shorten it (§1.4).
    registry.update({ clusterId: "c", affiliateId: "a", endpoints: [b("e1")], ttlMs: MIN });
    clock.t += 9 * MIN;
    expect(registry.list("c")).toHaveLength(1);
    // ... and with a longer TTL it keeps the affiliate alive past the data's TTL.
    registry.update({ clusterId: "c", affiliateId: "a", endpoints: [b("e2")], ttlMs: 5 * MIN });
    clock.t += 4 * MIN;
    expect(registry.list("c")).toHaveLength(1);
    clock.t += MIN;
    expect(registry.list("c")).toEqual([]);
  });

  it("refuses TTLs above 30 minutes, zero and negative TTLs with INVALID_ARGUMENT", () => {
    const { registry } = setup();
    const update = (ttlMs: number) => () =>
      registry.update({ clusterId: "c", affiliateId: "a", data: b("d"), ttlMs });
    expect(refusal(update(30 * MIN))).toBeUndefined();
    expect(refusal(update(30 * MIN + 1))).toBe(status.INVALID_ARGUMENT);
    expect(refusal(update(0))).toBe(status.INVALID_ARGUMENT);
    expect(refusal(update(-5))).toBe(status.INVALID_ARGUMENT);
    expect(refusal(update(Number.POSITIVE_INFINITY))).toBe(status.INVALID_ARGUMENT);
  });
});

describe("discovery registry: endpoint merge", () => {
  it("merges endpoints byte-exactly, keeps insertion order, never replaces", () => {
    const { registry, events, watch } = setup();
    watch();
    registry.update({
      clusterId: "c",
      affiliateId: "a",
      data: b("d"),
      endpoints: [b("e1"), b("e2")],
      ttlMs: MIN,
    });
    registry.update({
      clusterId: "c",
      affiliateId: "a",
      endpoints: [b("e2"), b("e3"), b("e3")],
      ttlMs: MIN,
    });
    registry.update({ clusterId: "c", affiliateId: "a", endpoints: [b("e1")], ttlMs: MIN });
    const [a] = registry.list("c");
    expect(a.endpoints.map(String)).toEqual(["e1", "e2", "e3"]);
    expect(String(a.data)).toBe("d");
    // Two changes (creation, e3 added); the pure refresh produced no notification.
    expect(
      events.map((e) => (e.kind === "update" ? e.affiliate.endpoints.map(String) : e)),
    ).toEqual([
      ["e1", "e2"],
      ["e1", "e2", "e3"],
    ]);
  });

  it("matches a model: stored endpoints are the de-duplicated union in first-seen order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 6 }), {
          minLength: 1,
          maxLength: 10,
        }),
        (batches) => {
          const { registry } = setup();
          const model: number[] = [];
          for (const batch of batches) {
            registry.update({
              clusterId: "c",
              affiliateId: "a",
              endpoints: batch.map((n) => Buffer.from([n])),
              ttlMs: MIN,
            });
            for (const n of batch) if (!model.includes(n)) model.push(n);
          }
          const [a] = registry.list("c");
          expect(a.endpoints.map((e) => e[0])).toEqual(model);
        },
      ),
    );
  });

  it("absent or empty data leaves stored data untouched; an endpoints-only affiliate has empty data", () => {
    const { registry } = setup();
    registry.update({ clusterId: "c", affiliateId: "x", endpoints: [b("e")], ttlMs: MIN });
    expect(registry.list("c")[0].data).toHaveLength(0);
    registry.update({ clusterId: "c", affiliateId: "x", data: b("blob"), ttlMs: MIN });
    registry.update({ clusterId: "c", affiliateId: "x", data: Buffer.alloc(0), ttlMs: MIN });
    expect(String(registry.list("c")[0].data)).toBe("blob");
  });

  it("copies stored bytes, so a caller reusing its buffer cannot change the registry", () => {
    const { registry } = setup();
    const data = b("data");
    const endpoint = b("ep");
    registry.update({ clusterId: "c", affiliateId: "a", data, endpoints: [endpoint], ttlMs: MIN });
    data.fill(0);
    endpoint.fill(0);
    const [a] = registry.list("c");
    expect([String(a.data), String(a.endpoints[0])]).toEqual(["data", "ep"]);
  });
});

describe("discovery registry: GC", () => {
  it("expires endpoints on their own TTL and notifies the full affiliate", () => {
    const { clock, registry, events, watch } = setup();
    reportA(registry, "old");
    clock.t += 5 * MIN;
    reportA(registry, "new");
    watch();
    clock.t += 5 * MIN;
    expect(registry.gc()).toEqual({ affiliates: 0, endpoints: 1, clusters: 0 });
    expect(events).toEqual([
      { kind: "update", affiliate: { id: "a", data: b("d"), endpoints: [b("new")] } },
    ]);
  });

  it("re-reporting an endpoint extends that endpoint's expiration", () => {
    const { clock, registry } = setup();
    reportA(registry, "e");
    clock.t += 8 * MIN;
    reportA(registry, "e");
    clock.t += 8 * MIN;
    registry.gc();
    expect(registry.list("c")[0].endpoints).toEqual([b("e")]);
  });

  it("drops empty clusters without watchers, keeps those with watchers", () => {
    const { clock, registry, watch } = setup();
    registry.update({ clusterId: "c1", affiliateId: "a", data: b("d"), ttlMs: MIN });
    registry.update({ clusterId: "c2", affiliateId: "a", data: b("d"), ttlMs: MIN });
    const sub = watch("c2");
    clock.t += MIN;
    expect(registry.gc()).toEqual({ affiliates: 2, endpoints: 0, clusters: 1 });
    expect(registry.stats()).toEqual({ clusters: 1, affiliates: 0, endpoints: 0, watchers: 1 });
    sub.unsubscribe();
    expect(registry.stats().clusters).toBe(0);
  });

  it("delete removes and notifies; deleting an unknown affiliate is a silent no-op", () => {
    const { registry, events, watch } = setup();
    registry.update({ clusterId: "c", affiliateId: "a", data: b("d"), ttlMs: MIN });
    watch();
    registry.delete("c", "a");
    registry.delete("c", "a");
    registry.delete("nope", "a");
    expect(events).toEqual([{ kind: "delete", id: "a" }]);
    expect(registry.stats()).toMatchObject({ affiliates: 0, clusters: 1 });
  });
});

describe("discovery registry: limits (§1.3)", () => {
  const update = (r: Registry, over: object) => () =>
    r.update({ clusterId: "c", affiliateId: "a", data: b("d"), ttlMs: MIN, ...over });

  it("refuses empty and oversized ids, data and endpoints with INVALID_ARGUMENT", () => {
    const { registry } = setup();
    const cases: [object, status | undefined][] = [
      [{ clusterId: "" }, status.INVALID_ARGUMENT],
      [{ clusterId: "x".repeat(256) }, undefined],
      [{ clusterId: "x".repeat(257) }, status.INVALID_ARGUMENT],
      [{ clusterId: "é".repeat(129) }, status.INVALID_ARGUMENT], // 258 UTF-8 bytes
      [{ affiliateId: "" }, status.INVALID_ARGUMENT],
      [{ affiliateId: "y".repeat(256) }, undefined],
      [{ affiliateId: "y".repeat(257) }, status.INVALID_ARGUMENT],
      [{ data: Buffer.alloc(2048) }, undefined],
      [{ data: Buffer.alloc(2049) }, status.INVALID_ARGUMENT],
      [{ endpoints: [Buffer.alloc(32)] }, undefined],
      [{ endpoints: [Buffer.alloc(33)] }, status.INVALID_ARGUMENT],
      [{ endpoints: [Buffer.alloc(0)] }, status.INVALID_ARGUMENT],
      [
        { endpoints: Array.from({ length: 65 }, (_, i) => Buffer.from([i])) },
        status.INVALID_ARGUMENT,
      ],
    ];
    for (const [over, code] of cases)
      expect(refusal(update(registry, over)), JSON.stringify(over).slice(0, 60)).toBe(code);
  });

  it("caps endpoints per affiliate at 64 with RESOURCE_EXHAUSTED, refusing atomically", () => {
    const { registry } = setup();
    for (let i = 0; i < 64; i++) update(registry, { endpoints: [Buffer.from([i])] })();
    const before = registry.list("c")[0];
    expect(before.endpoints).toHaveLength(64);
    expect(refusal(update(registry, { data: b("new"), endpoints: [Buffer.from([200])] }))).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    expect(registry.list("c")[0]).toEqual(before);
    // A known endpoint is a refresh, not a new one, so it is still accepted.
    expect(refusal(update(registry, { endpoints: [Buffer.from([7])] }))).toBeUndefined();
  });

  it("caps affiliates per cluster at 1024; refreshing an existing one still works", () => {
    const { registry } = setup();
    for (let i = 0; i < 1024; i++) update(registry, { affiliateId: `a${i}` })();
    expect(refusal(update(registry, { affiliateId: "one-too-many" }))).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    expect(refusal(update(registry, { affiliateId: "a5", data: b("refresh") }))).toBeUndefined();
    expect(refusal(update(registry, { clusterId: "other", affiliateId: "z" }))).toBeUndefined();
    expect(registry.stats().affiliates).toBe(1025);
  });

  it("expired endpoints and affiliates free their slots before limits are checked", () => {
    const { clock, registry } = setup({ clusterAffiliatesMax: 2, affiliateEndpointsMax: 2 });
    update(registry, { affiliateId: "a1", endpoints: [b("1"), b("2")] })();
    update(registry, { affiliateId: "a2" })();
    clock.t += MIN;
    expect(refusal(update(registry, { affiliateId: "a3" }))).toBeUndefined();
    expect(
      refusal(update(registry, { affiliateId: "a3", endpoints: [b("3"), b("4")] })),
    ).toBeUndefined();
  });
});

describe("discovery registry: snapshot state", () => {
  it("round-trips through export/import with expirations kept and expired records skipped", () => {
    const { clock, registry } = setup();
    reportA(registry, "e");
    registry.update({ clusterId: "c", affiliateId: "short", data: b("d"), ttlMs: MIN });
    const state = registry.exportState();
    clock.t += 2 * MIN;
    const restored = new Registry(resolveLimits(), () => clock.t);
    expect(restored.importState(state)).toEqual({ affiliates: 1, skipped: 1 });
    expect(restored.list("c")).toEqual([{ id: "a", data: b("d"), endpoints: [b("e")] }]);
    clock.t += 8 * MIN;
    expect(restored.list("c")).toEqual([]);
  });
});
