/**
 * A Watch the service aborts because its queue overflowed (kubespan.md §1.5: a slow watcher is
 * ended with ABORTED and re-watches; wirespan's service does so only when more distinct
 * affiliates wait than `watchPendingMax`, watch.ts) must be noticed and re-established promptly, and the client
 * must resync from the new snapshot: a node that learns of the abort late misses affiliates.
 * grpc-js sends a status only after the messages already written, so the service must not have
 * handed a slow reader a backlog of moot changes ahead of the ABORTED status.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Registry } from "../src/discovery/registry.js";
import { DiscoveryServer } from "../src/discovery/server.js";
import { type AffiliateData, encodeAffiliateData } from "../src/kubespan/affiliate.js";
import { DiscoveryClient } from "../src/kubespan/discovery-client.js";
import { clusterSecretKey, sealAffiliateData } from "../src/kubespan/discovery-crypto.js";

const clusterId = "wsk-abort-cluster";
const secret = Buffer.alloc(32, 9).toString("base64");

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function data(n: number): AffiliateData {
  return {
    nodeId: `node-${n}`,
    addresses: [`198.18.${n >> 8}.${n & 255}`],
    hostname: `node-${n}`,
    nodename: "",
    machineType: "worker",
    operatingSystem: "wirespan",
    kubespan: {
      publicKey: Buffer.alloc(32, n & 255).toString("base64"),
      address: `fd00::${n.toString(16)}`,
      additionalAddresses: [],
    },
    controlPlane: null,
  };
}

describe("discovery client: a Watch aborted for overflow", () => {
  it("re-watches at once and sees every affiliate of the burst from the new snapshot", async () => {
    const s = await DiscoveryServer.start({
      listen: "127.0.0.1:0",
      limits: { watchPendingMax: 2 },
    });
    cleanups.push(() => s.close());
    const logs: string[] = [];
    // Messages the client had read when the abort reached it.
    let readAtNotice = -1;
    const c = new DiscoveryClient({
      endpoint: `http://${s.address}`,
      clusterId,
      clusterSecret: secret,
      affiliateId: "node-0",
      port: 51820,
      log: (m) => {
        logs.push(m);
        if (readAtNotice < 0 && m.includes("ABORTED")) readAtNotice = c.stats.watchMessages;
      },
    });
    cleanups.push(() => c.stop({ deleteAffiliate: false }));
    c.setLocalData(data(0), ["198.18.0.0:51820"]);
    // A slow reader, like a node busy with its mesh: every delivered message costs it 10 ms.
    c.on("affiliates", () => {
      const until = performance.now() + 10;
      while (performance.now() < until);
    });
    c.start();
    const deadline0 = Date.now() + 10_000;
    while (!c.connected && Date.now() < deadline0) await new Promise((r) => setTimeout(r, 10));
    expect(c.connected).toBe(true);

    // A burst of updates of distinct affiliates in one tick: far more than the transport
    // buffer plus the 2 the service keeps waiting, so it aborts this watcher.
    const registry = (s as unknown as { registry: Registry }).registry;
    const key = clusterSecretKey(secret);
    const burst = 200;
    for (let n = 1; n <= burst; n++) {
      registry.update({
        clusterId,
        affiliateId: `node-${n}`,
        data: sealAffiliateData(key, encodeAffiliateData(data(n))),
        ttlMs: 600_000,
      });
    }
    expect(s.metrics().watchersAborted).toBeGreaterThanOrEqual(1);
    const readAtAbort = c.stats.watchMessages;

    const started = Date.now();
    while (c.affiliates.size < burst && Date.now() - started < 5_000)
      await new Promise((r) => setTimeout(r, 10));
    const tookMs = Date.now() - started;
    expect(c.affiliates.size, `${tookMs} ms; log: ${logs.join(" | ")}`).toBe(burst);
    // The ABORTED status followed at most the message in flight, not a backlog of changes the
    // client throws away anyway (before: the 16 grpc-js had buffered, 160 ms of this reader).
    expect(readAtNotice - readAtAbort, logs.join(" | ")).toBeLessThanOrEqual(2);
  }, 20_000);
});
