/**
 * A slow watcher's waiting changes are kept per affiliate (discovery/watch.ts): whatever order
 * updates, deletions and the transport's progress come in, a client that applies the Watch
 * messages as kubespan.md §1.5 says (first = snapshot, then one affiliate each, `deleted` removes)
 * ends with exactly the registry's state — and the snapshot, a concatenation of per-affiliate
 * encodings, decodes as the registry's list.
 */
import "../../../test/support/fast-check-seed.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveLimits } from "../src/discovery/limits.js";
import { clusterServiceDefinition, type WatchResponse } from "../src/discovery/proto.js";
import { Registry } from "../src/discovery/registry.js";
import { type WatchSink, WatchStream } from "../src/discovery/watch.js";

const decode = (bytes: Buffer) =>
  clusterServiceDefinition().Watch.responseDeserialize(bytes) as WatchResponse;

/** A transport that takes one message and acknowledges it when the test says so. */
class SlowSink implements WatchSink {
  readonly delivered: WatchResponse[] = [];
  private inFlight: { message: Buffer; done: () => void } | null = null;
  ended: { code: number; details: string } | null = null;

  write(message: WatchResponse | Buffer, done: () => void): boolean {
    if (!Buffer.isBuffer(message)) throw new Error("watch wrote an unencoded message");
    if (this.inFlight) throw new Error("watch wrote while a message was in flight");
    this.inFlight = { message, done };
    return false;
  }
  emit(_event: "error", error: { code: number; details: string }): boolean {
    this.ended = error;
    return true;
  }
  end(): void {}
  /** The client reads the message in flight; false when there is none. */
  take(): boolean {
    const f = this.inFlight;
    if (!f) return false;
    this.inFlight = null;
    this.delivered.push(decode(f.message));
    f.done();
    return true;
  }
}

const ops = fc.array(
  fc.oneof(
    fc.record({
      op: fc.constant("update" as const),
      id: fc.nat(5),
      data: fc.nat(255),
      endpoint: fc.option(fc.nat(3)),
    }),
    fc.record({ op: fc.constant("delete" as const), id: fc.nat(5) }),
    fc.record({ op: fc.constant("take" as const), n: fc.nat(4) }),
  ),
  { maxLength: 80 },
);

function view(r: WatchResponse[]): Map<string, string> {
  const state = new Map<string, string>();
  r.forEach((m, i) => {
    if (i === 0) state.clear();
    for (const a of m.affiliates ?? []) {
      if (m.deleted) state.delete(a.id ?? "");
      else state.set(a.id ?? "", describeAffiliate(a.data, a.endpoints));
    }
  });
  return state;
}

function describeAffiliate(
  data: Uint8Array | undefined,
  endpoints: readonly Uint8Array[] | undefined,
): string {
  return `${Buffer.from(data ?? []).toString("hex")}|${(endpoints ?? []).map((e) => Buffer.from(e).toString("hex")).join(",")}`;
}

describe("discovery Watch: a slow watcher's changes coalesced per affiliate", () => {
  it("a client applying the stream in order ends with the registry's state", () => {
    fc.assert(
      fc.property(ops, fc.array(fc.nat(5), { maxLength: 4 }), (script, initial) => {
        const registry = new Registry(resolveLimits(), () => 0);
        const update = (id: number, data: number, endpoint: number | null) =>
          registry.update({
            clusterId: "c",
            affiliateId: `a${id}`,
            data: Buffer.from([data, id]),
            endpoints: endpoint === null ? [] : [Buffer.from([0xe0, endpoint])],
            ttlMs: 60_000,
          });
        for (const id of initial) update(id, 1, null);
        const sink = new SlowSink();
        let closed = false;
        const stream = new WatchStream(sink, 1024, () => {
          closed = true;
        });
        const sub = registry.subscribe("c", stream);
        stream.start(sub.snapshot);
        for (const step of script) {
          if (step.op === "update") update(step.id, step.data, step.endpoint);
          else if (step.op === "delete") registry.delete("c", `a${step.id}`);
          else for (let i = 0; i < step.n; i++) sink.take();
        }
        while (sink.take());
        expect(closed).toBe(false);
        expect(sink.ended).toBeNull();
        const expected = new Map(
          registry.list("c").map((a) => [a.id, describeAffiliate(a.data, a.endpoints)]),
        );
        expect(view(sink.delivered)).toEqual(expected);
        // Never more than the snapshot, one message per change and nothing once idle.
        expect(sink.delivered.length).toBeLessThanOrEqual(1 + script.length);
      }),
    );
  });

  it("the snapshot of concatenated per-affiliate encodings decodes as the registry's list", () => {
    const registry = new Registry(resolveLimits(), () => 0);
    for (let i = 0; i < 50; i++) {
      registry.update({
        clusterId: "c",
        affiliateId: `node-${i}`,
        data: Buffer.alloc(300, i),
        endpoints: [Buffer.alloc(32, i), Buffer.alloc(32, i + 1)],
        ttlMs: 60_000,
      });
    }
    const sink = new SlowSink();
    const stream = new WatchStream(sink, 1024, () => {});
    stream.start(registry.subscribe("c", stream).snapshot);
    sink.take();
    const [snapshot] = sink.delivered;
    expect(snapshot.deleted ?? false).toBe(false);
    expect(snapshot.affiliates?.map((a) => a.id)).toEqual(registry.list("c").map((a) => a.id));
    expect(snapshot.affiliates?.[7].data).toEqual(Buffer.alloc(300, 7));
    expect(snapshot.affiliates?.[7].endpoints).toEqual([Buffer.alloc(32, 7), Buffer.alloc(32, 8)]);
  });

  it("aborts only when more distinct affiliates wait than the limit", () => {
    const registry = new Registry(resolveLimits(), () => 0);
    const sink = new SlowSink();
    let aborted: boolean | null = null;
    const stream = new WatchStream(sink, 3, (a) => {
      aborted = a;
    });
    stream.start(registry.subscribe("c", stream).snapshot);
    const update = (id: string, n: number) =>
      registry.update({ clusterId: "c", affiliateId: id, data: Buffer.from([n]), ttlMs: 60_000 });
    // The snapshot is in flight; three affiliates changing again and again fit.
    for (let n = 1; n <= 100; n++) for (const id of ["x", "y", "z"]) update(id, n);
    expect(aborted).toBeNull();
    update("w", 1);
    expect(aborted).toBe(true);
    expect(sink.ended?.details).toContain("lost update");
  });
});
