import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { clusterClient, codeOf, ttl, unary, Watcher } from "./discovery-grpc-client.js";
import { discoveryServers, update } from "./support/discovery-server.js";

// Service behaviour from /work/shared/reference/kubespan.md §1 (wire API §1.2, Watch §1.5,
// redirect and client IP §1.6), exercised over 127.0.0.1 with a client built only from the proto.

const { start, cleanups } = discoveryServers();

describe("discovery gRPC: Hello", () => {
  it("returns the TCP peer address as 4-byte client_ip and no redirect", async () => {
    const { client } = await start();
    const response = await unary<{ client_ip?: Buffer; redirect?: unknown }>(client, "Hello", {
      cluster_id: "c1",
      client_version: "v1.10.0",
    });
    expect([...(response.client_ip ?? [])]).toEqual([127, 0, 0, 1]);
    expect(response.redirect).toBeUndefined();
  });

  it("returns a 16-byte client_ip for an IPv6 peer", async () => {
    const { client, server } = await start({ listen: "[::1]:0" });
    expect(server.address).toMatch(/^\[::1\]:\d+$/);
    const response = await unary<{ client_ip: Buffer }>(client, "Hello", { cluster_id: "c1" });
    expect(response.client_ip.toString("hex")).toBe("00000000000000000000000000000001");
  });

  it("answers every Hello with the configured redirect endpoint", async () => {
    const { client } = await start({ redirectEndpoint: "discovery.example:3000" });
    const response = await unary<{ redirect?: { endpoint: string } }>(client, "Hello", {
      cluster_id: "c1",
    });
    expect(response.redirect).toEqual({ endpoint: "discovery.example:3000" });
  });

  it("ignores forwarding headers unless told to trust them", async () => {
    const metadata = new Metadata();
    metadata.set("x-forwarded-for", "198.18.0.7, 198.18.0.1");
    const plain = await start();
    const spoofed = await unary<{ client_ip: Buffer }>(
      plain.client,
      "Hello",
      { cluster_id: "c" },
      metadata,
    );
    expect([...spoofed.client_ip]).toEqual([127, 0, 0, 1]);
    const trusting = await start({ trustForwardedFor: true });
    const forwarded = await unary<{ client_ip: Buffer }>(
      trusting.client,
      "Hello",
      { cluster_id: "c" },
      metadata,
    );
    expect([...forwarded.client_ip]).toEqual([198, 18, 0, 7]);
    metadata.set("x-real-ip", "fd00::5");
    const real = await unary<{ client_ip: Buffer }>(
      trusting.client,
      "Hello",
      { cluster_id: "c" },
      metadata,
    );
    expect(real.client_ip.toString("hex")).toBe("fd000000000000000000000000000005");
  });

  it("refuses an empty or oversized cluster id with INVALID_ARGUMENT", async () => {
    const { client } = await start();
    expect(await codeOf(unary(client, "Hello", {}))).toBe(status.INVALID_ARGUMENT);
    expect(await codeOf(unary(client, "Hello", { cluster_id: "x".repeat(257) }))).toBe(
      status.INVALID_ARGUMENT,
    );
  });
});

describe("discovery gRPC: update, list, delete", () => {
  it("stores opaque blobs, merges endpoints and deletes", async () => {
    const { client, server } = await start();
    const data = Buffer.from([0, 1, 2, 255, 254]);
    await update(client, { affiliate_data: data, affiliate_endpoints: [Buffer.from("e1")] });
    await update(client, { affiliate_endpoints: [Buffer.from("e2"), Buffer.from("e1")] });
    await update(client, {
      affiliate_id: "a2",
      affiliate_endpoints: [Buffer.from("x")],
      ttl: ttl(1800),
    });
    const listed = await unary<{
      affiliates: { id: string; data?: Buffer; endpoints: Buffer[] }[];
    }>(client, "List", { cluster_id: "c1" });
    expect(
      listed.affiliates.map((a) => [a.id, a.data?.toString("hex") ?? "", a.endpoints.map(String)]),
    ).toEqual([
      ["a1", "000102fffe", ["e1", "e2"]],
      ["a2", "", ["x"]],
    ]);
    expect(server.metrics()).toMatchObject({ clusters: 1, affiliates: 2, endpoints: 3 });
    await unary(client, "AffiliateDelete", { cluster_id: "c1", affiliate_id: "a1" });
    const after = await unary<{ affiliates: { id: string }[] }>(client, "List", {
      cluster_id: "c1",
    });
    expect(after.affiliates.map((a) => a.id)).toEqual(["a2"]);
    const empty = await unary<{ affiliates?: unknown[] }>(client, "List", { cluster_id: "nobody" });
    expect(empty.affiliates ?? []).toEqual([]);
  });

  it("takes the TTL from the Duration, seconds and nanos", async () => {
    const clock = { t: 1_000_000 };
    const { client } = await start({ now: () => clock.t });
    await update(client, { affiliate_data: Buffer.from("d"), ttl: ttl(10, 500_000_000) });
    clock.t += 10_499;
    expect(
      (await unary<{ affiliates?: unknown[] }>(client, "List", { cluster_id: "c1" })).affiliates,
    ).toHaveLength(1);
    clock.t += 1;
    expect(
      (await unary<{ affiliates?: unknown[] }>(client, "List", { cluster_id: "c1" })).affiliates,
    ).toBeUndefined();
  });
});

describe("discovery gRPC: Watch", () => {
  it("sends the snapshot, then one message per change, full record on endpoint expiry, deletes", async () => {
    const clock = { t: 1_000_000 };
    const { client, server } = await start({ now: () => clock.t });
    await update(client, {
      affiliate_id: "early",
      affiliate_data: Buffer.from("e"),
      ttl: ttl(600),
    });
    const watcher = new Watcher(client, "c1");
    cleanups.push(() => watcher.cancel());
    const snapshot = await watcher.next();
    expect(snapshot.affiliates?.map((a) => a.id)).toEqual(["early"]);
    expect(snapshot.deleted ?? false).toBe(false);
    expect(server.metrics().watchers).toBe(1);

    await update(client, {
      affiliate_data: Buffer.from("d1"),
      affiliate_endpoints: [Buffer.from("ep-old")],
    });
    let message = await watcher.next();
    expect(message.affiliates).toHaveLength(1);
    expect(message.affiliates?.[0]).toMatchObject({ id: "a1", data: Buffer.from("d1") });

    clock.t += 30_000;
    await update(client, {
      affiliate_data: Buffer.from("d1"),
      affiliate_endpoints: [Buffer.from("ep-new")],
    });
    message = await watcher.next();
    expect(message.affiliates?.[0].endpoints?.map(String)).toEqual(["ep-old", "ep-new"]);

    // ep-old reaches its own TTL: watchers get the whole affiliate without it, not a deletion.
    clock.t += 30_000;
    server.gc();
    message = await watcher.next();
    expect(message.deleted ?? false).toBe(false);
    expect(message.affiliates?.[0]).toMatchObject({ id: "a1", data: Buffer.from("d1") });
    expect(message.affiliates?.[0].endpoints?.map(String)).toEqual(["ep-new"]);

    await unary(client, "AffiliateDelete", { cluster_id: "c1", affiliate_id: "a1" });
    message = await watcher.next();
    expect(message).toMatchObject({ deleted: true, affiliates: [{ id: "a1" }] });
    // A refresh that changes nothing sends nothing.
    await update(client, { affiliate_id: "early", ttl: ttl(600) });
    expect(await watcher.quiet(200)).toBe(true);
  });

  it("sends an empty snapshot for an unknown cluster and does not see other clusters", async () => {
    const { client } = await start();
    const watcher = new Watcher(client, "quiet-cluster");
    cleanups.push(() => watcher.cancel());
    expect((await watcher.next()).affiliates ?? []).toEqual([]);
    await update(client, { cluster_id: "other", affiliate_data: Buffer.from("x") });
    expect(await watcher.quiet(200)).toBe(true);
  });

  it("releases the subscription when the client cancels", async () => {
    const { client, server } = await start();
    const watcher = new Watcher(client, "c1");
    await watcher.next();
    expect(server.metrics().watchers).toBe(1);
    watcher.cancel();
    await expect.poll(() => server.metrics().watchers).toBe(0);
    expect(server.metrics().clusters).toBe(0);
  });

  it("coalesces a watcher that stops reading per affiliate: it catches up with the latest record, not aborted", async () => {
    const { client, server } = await start({
      limits: { rateLimitBurst: 100_000, rateLimitPerSecond: 100_000 },
    });
    // The slow watcher has its own connection: a paused stream also holds back the HTTP/2
    // connection window of its own connection, which is the client's business, not the service's.
    const slowClient = clusterClient(server.address);
    cleanups.push(() => slowClient.close());
    const slow = new Watcher(slowClient, "c1");
    const fast = new Watcher(client, "c1");
    cleanups.push(
      () => slow.cancel(),
      () => fast.cancel(),
    );
    await slow.next();
    await fast.next();
    slow.call.pause();
    const updates = 150;
    for (let i = 0; i < updates; i++) {
      // 2 KiB data each: 300 of them overfill the 64 KiB HTTP/2 stream window and stream buffer.
      await update(client, { affiliate_data: distinct(i) });
      await update(client, { affiliate_id: "b1", affiliate_data: distinct(i) });
      await fast.next();
      await fast.next();
    }
    await update(client, { affiliate_id: "b1", affiliate_data: distinct(updates) });
    await unary(client, "AffiliateDelete", { cluster_id: "c1", affiliate_id: "b1" });
    await fast.next();
    await fast.next();
    // What the transport could not take waits as one change per affiliate, the latest.
    expect(server.metrics().watchCoalesced).toBeGreaterThan(updates);
    expect(server.metrics()).toMatchObject({ watchersAborted: 0, watchers: 2 });
    slow.call.resume();
    // Applying the messages in order, as a Talos client does, ends at the service's state.
    const seen = new Map<string, number>();
    let messages = 0;
    while (!(seen.get("a1") === updates - 1 && !seen.has("b1"))) {
      const m = await slow.next();
      messages++;
      for (const a of m.affiliates ?? []) {
        if (m.deleted) seen.delete(a.id ?? "");
        else seen.set(a.id ?? "", a.data?.readUInt32BE(0) ?? -1);
      }
    }
    expect(messages).toBeLessThan(2 * updates);
    expect(await slow.quiet(200)).toBe(true);
    expect(slow.error).toBeUndefined();
  });

  it("aborts a watcher that stops reading once more distinct affiliates wait than the limit", async () => {
    const { client, server } = await start({
      limits: {
        rateLimitBurst: 100_000,
        rateLimitPerSecond: 100_000,
        watchersMax: 2,
        watchPendingMax: 8,
      },
    });
    const slowClient = clusterClient(server.address);
    cleanups.push(() => slowClient.close());
    const slow = new Watcher(slowClient, "c1");
    const fast = new Watcher(client, "c1");
    cleanups.push(
      () => slow.cancel(),
      () => fast.cancel(),
    );
    await slow.next();
    await fast.next();
    slow.call.pause();
    // Distinct short-lived affiliates: nothing to coalesce.
    for (let i = 0; i < 100; i++) {
      await update(client, { affiliate_id: `n${i}`, affiliate_data: distinct(i) });
      await fast.next();
    }
    await expect.poll(() => server.metrics().watchersAborted, { timeout: 5000 }).toBe(1);
    expect(server.metrics()).toMatchObject({ watchers: 1, watchStreams: 2 });
    // While the aborted stream still holds its buffered messages it counts against the cap.
    expect((await new Watcher(client, "c1").ended)?.code).toBe(status.RESOURCE_EXHAUSTED);
    slow.call.resume();
    const error = await slow.ended;
    expect(error?.code).toBe(status.ABORTED);
    expect(error?.details).toContain("lost update");
    await expect.poll(() => server.metrics().watchStreams).toBe(1);
    // The slow client re-watches and gets a full snapshot with every affiliate.
    const again = new Watcher(slowClient, "c1");
    cleanups.push(() => again.cancel());
    const snapshot = await again.next();
    expect(snapshot.affiliates).toHaveLength(100);
  });
});

function distinct(i: number): Buffer {
  const data = Buffer.alloc(2048);
  data.writeUInt32BE(i);
  return data;
}
