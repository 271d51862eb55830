import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DiscoveryServer } from "../src/discovery/server.js";
import { decodeSnapshot } from "../src/discovery/snapshot.js";
import { clusterClient, ttl, unary } from "./discovery-grpc-client.js";

// Restart keeps the registry (kubespan.md §1.4: optional on-disk snapshot of the encrypted blobs).

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "wsd-snapshot-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startWith(
  snapshotFile: string,
  extra: { snapshotIntervalMs?: number; now?: () => number } = {},
) {
  const logs: string[] = [];
  const server = await DiscoveryServer.start({
    listen: "127.0.0.1:0",
    snapshotFile,
    log: (m) => logs.push(m),
    ...extra,
  });
  const client = clusterClient(server.address);
  cleanups.push(() => server.close());
  cleanups.push(() => client.close());
  return { server, client, logs };
}

type Listed = { affiliates?: { id: string; data?: Buffer; endpoints?: Buffer[] }[] };

describe("discovery snapshot", () => {
  it("a restart with the snapshot keeps affiliates, data, endpoints and expirations", async () => {
    const file = join(await tempDir(), "state.json");
    const clock = { t: 1_000_000 };
    const first = await startWith(file, { now: () => clock.t });
    await unary(first.client, "AffiliateUpdate", {
      cluster_id: "c1",
      affiliate_id: "a1",
      affiliate_data: Buffer.from([9, 8, 7]),
      affiliate_endpoints: [Buffer.alloc(16, 1), Buffer.alloc(32, 2)],
      ttl: ttl(600),
    });
    await unary(first.client, "AffiliateUpdate", {
      cluster_id: "c2",
      affiliate_id: "b",
      affiliate_data: Buffer.from("x"),
      ttl: ttl(60),
    });
    await first.server.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(join(file, ".."))).filter((f) => f.includes(".tmp-"))).toEqual([]);

    clock.t += 120_000; // c2/b (60 s) expired while the service was down; a1 has 480 s left.
    const second = await startWith(file, { now: () => clock.t });
    expect(second.logs.join("\n")).toContain("1 affiliates, 1 skipped");
    const listed = await unary<Listed>(second.client, "List", { cluster_id: "c1" });
    expect(listed.affiliates).toEqual([
      {
        id: "a1",
        data: Buffer.from([9, 8, 7]),
        endpoints: [Buffer.alloc(16, 1), Buffer.alloc(32, 2)],
      },
    ]);
    expect(
      (await unary<Listed>(second.client, "List", { cluster_id: "c2" })).affiliates,
    ).toBeUndefined();
    clock.t += 480_000;
    expect(
      (await unary<Listed>(second.client, "List", { cluster_id: "c1" })).affiliates,
    ).toBeUndefined();
  });

  it("writes the snapshot periodically, not only on close", async () => {
    const file = join(await tempDir(), "state.json");
    const { client } = await startWith(file, { snapshotIntervalMs: 50 });
    await unary(client, "AffiliateUpdate", {
      cluster_id: "c1",
      affiliate_id: "a1",
      affiliate_data: Buffer.from("d"),
      ttl: ttl(60),
    });
    await expect
      .poll(async () => {
        const text = await readFile(file, "utf8").catch(() => "");
        return text
          ? decodeSnapshot(text).clusters.flatMap((c) => c.affiliates.map((a) => a.id))
          : [];
      })
      .toEqual(["a1"]);
  });

  it("starts empty (and says why) from a corrupt snapshot, then overwrites it with a good one", async () => {
    const file = join(await tempDir(), "state.json");
    await writeFile(file, "{ not json");
    const { server, client, logs } = await startWith(file);
    expect(logs.join("\n")).toMatch(/snapshot not loaded.*malformed/);
    expect(server.metrics().snapshotErrors).toBe(1);
    await unary(client, "AffiliateUpdate", {
      cluster_id: "c1",
      affiliate_id: "a1",
      affiliate_data: Buffer.from("d"),
      ttl: ttl(60),
    });
    await server.saveSnapshot();
    expect(decodeSnapshot(await readFile(file, "utf8")).clusters).toHaveLength(1);
  });

  it("skips snapshot records that break the limits instead of trusting the file", async () => {
    const file = join(await tempDir(), "state.json");
    const far = Date.now() + 600_000;
    const affiliate = (id: string, dataBytes: number) => ({
      id,
      data: Buffer.alloc(dataBytes).toString("base64"),
      expiresAt: far,
      endpoints: [],
    });
    await writeFile(
      file,
      JSON.stringify({
        format: "wirespan-discovery-snapshot",
        version: 1,
        clusters: [
          {
            id: "c1",
            affiliates: [affiliate("ok", 10), affiliate("too-big", 5000), affiliate("", 1)],
          },
        ],
      }),
    );
    const { client, logs } = await startWith(file);
    expect(logs.join("\n")).toContain("1 affiliates, 2 skipped");
    const listed = await unary<Listed>(client, "List", { cluster_id: "c1" });
    expect(listed.affiliates?.map((a) => a.id)).toEqual(["ok"]);
  });
});
