import type { Client } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { type ClusterClient, codeOf, ttl, unary, Watcher } from "./discovery-grpc-client.js";
import { discoveryServers, update } from "./support/discovery-server.js";

// Hostile callers (limits from /work/shared/reference/kubespan.md §1.3): every refusal carries the
// proper gRPC code and the service keeps serving honest requests afterwards.

const { start, cleanups } = discoveryServers();

const generous = { limits: { rateLimitBurst: 100_000, rateLimitPerSecond: 100_000 } };

async function stillServes(client: ClusterClient): Promise<void> {
  await update(client, { affiliate_id: "honest", affiliate_data: Buffer.from("blob") });
  const listed = await unary<{ affiliates: { id: string }[] }>(client, "List", {
    cluster_id: "c1",
  });
  expect(listed.affiliates.map((a) => a.id)).toContain("honest");
}

describe("discovery hostile requests", () => {
  it("refuses malformed updates with INVALID_ARGUMENT and changes nothing", async () => {
    const { client, server } = await start(generous);
    const cases: [string, Record<string, unknown>][] = [
      ["empty cluster id", { cluster_id: "" }],
      ["empty affiliate id", { affiliate_id: "" }],
      ["cluster id 257 bytes", { cluster_id: "c".repeat(257) }],
      ["affiliate id 257 bytes", { affiliate_id: "a".repeat(257) }],
      ["data 2049 bytes", { affiliate_data: Buffer.alloc(2049) }],
      ["endpoint 33 bytes", { affiliate_endpoints: [Buffer.alloc(33)] }],
      ["empty endpoint", { affiliate_endpoints: [Buffer.alloc(16), Buffer.alloc(0)] }],
      [
        "65 endpoints",
        { affiliate_endpoints: Array.from({ length: 65 }, (_, i) => Buffer.from([i])) },
      ],
      ["ttl 30 min + 1 ns", { ttl: ttl(1800, 1) }],
      ["ttl far beyond int53", { ttl: ttl("9223372036854775807") }],
      ["negative ttl", { ttl: ttl(-5) }],
      ["zero ttl", { ttl: ttl(0) }],
      ["missing ttl", { ttl: undefined }],
      ["ttl nanos out of range", { ttl: ttl(1, 1_000_000_000) }],
      ["ttl mixed signs", { ttl: ttl(5, -1) }],
    ];
    for (const [name, fields] of cases) {
      expect(
        await codeOf(update(client, { affiliate_data: Buffer.from("d"), ...fields })),
        name,
      ).toBe(status.INVALID_ARGUMENT);
    }
    expect(server.metrics()).toMatchObject({ clusters: 0, affiliates: 0 });
    expect(server.metrics().refused.INVALID_ARGUMENT).toBe(cases.length);
    await stillServes(client);
  });

  it("accepts exactly the published maxima", async () => {
    const { client } = await start(generous);
    await update(client, {
      cluster_id: "c".repeat(256),
      affiliate_id: "a".repeat(256),
      affiliate_data: Buffer.alloc(2048, 7),
      affiliate_endpoints: Array.from({ length: 64 }, (_, i) => Buffer.alloc(32, i)),
      ttl: ttl(1800),
    });
    const listed = await unary<{ affiliates: { endpoints: Buffer[] }[] }>(client, "List", {
      cluster_id: "c".repeat(256),
    });
    expect(listed.affiliates[0].endpoints).toHaveLength(64);
  });

  it("refuses the 65th stored endpoint and the 1025th affiliate with RESOURCE_EXHAUSTED", async () => {
    const { client } = await start(generous);
    for (let i = 0; i < 64; i++) await update(client, { affiliate_endpoints: [Buffer.from([i])] });
    expect(await codeOf(update(client, { affiliate_endpoints: [Buffer.from([99, 99])] }))).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    await Promise.all(
      Array.from({ length: 1023 }, (_, i) =>
        update(client, { affiliate_id: `n${i}`, affiliate_data: Buffer.from("d") }),
      ),
    );
    expect(
      await codeOf(update(client, { affiliate_id: "n-extra", affiliate_data: Buffer.from("d") })),
    ).toBe(status.RESOURCE_EXHAUSTED);
    expect(
      await codeOf(update(client, { cluster_id: "c2", affiliate_data: Buffer.from("d") })),
    ).toBe(0);
  });

  it("refuses requests above the message size limit and undecodable bytes, then serves on", async () => {
    const { client } = await start(generous);
    const huge = Array.from({ length: 2000 }, () => Buffer.alloc(32));
    expect(await codeOf(update(client, { affiliate_endpoints: huge }))).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    // Raw bytes that are not a valid protobuf (field 1 claims 100 bytes that are not there).
    const raw = await new Promise<number>((resolve) => {
      (client as Client).makeUnaryRequest(
        "/sidero.discovery.server.Cluster/AffiliateUpdate",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from([0x0a, 0x64, 0x01, 0x02]),
        (error) => resolve(error?.code ?? 0),
      );
    });
    expect(raw).not.toBe(0);
    await stillServes(client);
  });

  it("rate-limits a flood from one IP (15/s, burst 60, ≤1 s wait) with RESOURCE_EXHAUSTED", async () => {
    // Frozen clock: exactly 60 burst tokens + 15 waits of up to 1 s are granted, the rest refused.
    const clock = { t: 1_000_000 };
    const { client, server } = await start({ now: () => clock.t });
    const codes = await Promise.all(
      Array.from({ length: 100 }, () => codeOf(unary(client, "Hello", { cluster_id: "c1" }))),
    );
    expect(codes.filter((c) => c === 0)).toHaveLength(75);
    expect(codes.filter((c) => c === status.RESOURCE_EXHAUSTED)).toHaveLength(25);
    expect(server.metrics().refused.RESOURCE_EXHAUSTED).toBe(25);
    // Streams count too.
    const watcher = new Watcher(client, "c1");
    expect((await watcher.ended)?.code).toBe(status.RESOURCE_EXHAUSTED);
    clock.t += 10_000;
    await stillServes(client);
  });

  it("caps concurrent watchers with RESOURCE_EXHAUSTED and frees slots when they leave", async () => {
    const { client, server } = await start({ limits: { ...generous.limits, watchersMax: 5 } });
    const watchers = Array.from({ length: 5 }, (_, i) => new Watcher(client, `w${i}`));
    cleanups.push(() => {
      for (const w of watchers) w.cancel();
    });
    await Promise.all(watchers.map((w) => w.next()));
    const extra = new Watcher(client, "w-extra");
    expect((await extra.ended)?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(server.metrics().watchers).toBe(5);
    watchers[0].cancel();
    await expect.poll(() => server.metrics().watchers).toBe(4);
    const replacement = new Watcher(client, "w-new");
    cleanups.push(() => replacement.cancel());
    expect((await replacement.next()).affiliates ?? []).toEqual([]);
    await stillServes(client);
  });

  it("refuses a Watch with an invalid cluster id", async () => {
    const { client } = await start(generous);
    expect((await new Watcher(client, "").ended)?.code).toBe(status.INVALID_ARGUMENT);
    expect((await new Watcher(client, "x".repeat(300)).ended)?.code).toBe(status.INVALID_ARGUMENT);
  });
});
