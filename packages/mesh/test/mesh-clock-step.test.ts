/**
 * Durations are measured on a monotonic clock (peer-status.ts, monotonic-clock.ts,
 * discovery-client.ts): a step of the wall clock, as NTP makes after a long suspend or on a
 * badly synchronised host, must neither mark every peer down nor skip a discovery refresh.
 * `Date.now` is stepped in-process; everything that reads the wall clock sees the step.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DiscoveryServer } from "../src/discovery/server.js";
import { DiscoveryClient } from "../src/kubespan/discovery-client.js";
import { type LocalNode, newCluster, startLocalNode } from "../src/kubespan/local-mesh.js";

const HourMs = 3_600_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

/** Polls on the monotonic clock (Date.now is stepped by these tests). */
async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Puts a steppable wall clock in place of Date.now; returns the step function. Installed before
 * anything captures `Date.now`, so every reader of the wall clock sees the steps, as with a real
 * clock change.
 */
function steppableWallClock(): (byMs: number) => void {
  const real = Date.now.bind(Date);
  let offset = 0;
  vi.spyOn(Date, "now").mockImplementation(() => real() + offset);
  return (byMs) => {
    offset += byMs;
  };
}

async function discoveryServer(): Promise<DiscoveryServer> {
  const s = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
  cleanups.push(() => s.close());
  return s;
}

describe("wall-clock steps", () => {
  it("a forward step of an hour does not mark up peers down or rotate their endpoints", async () => {
    const stepWallClock = steppableWallClock();
    const discovery = await discoveryServer();
    const base = mkdtempSync(join(tmpdir(), "wsm-clock-"));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const cluster = newCluster();
    const nodes: LocalNode[] = [];
    for (const name of ["c1", "c2"]) {
      const n = await startLocalNode({
        cluster,
        discovery: `http://${discovery.address}`,
        hostname: name,
        stateDir: join(base, name),
        port: 0,
      });
      cleanups.push(() => n.node.close());
      nodes.push(n);
    }
    const states = () => nodes.flatMap((n) => n.node.peerStatuses().map((s) => s.state));
    await waitFor("both peers up", () => states().join() === "up,up", 15_000);
    const endpoints = nodes.map((n) => n.node.peerStatuses()[0].lastEndpointChange);

    stepWallClock(HourMs);
    for (const n of nodes) await n.node.reconcile();
    expect(states()).toEqual(["up", "up"]);
    expect(nodes.map((n) => n.node.peerStatuses()[0].lastEndpointChange)).toEqual(endpoints);
  });

  it("a backward step of an hour does not skip the refresh at TTL/2", async () => {
    const stepWallClock = steppableWallClock();
    const discovery = await discoveryServer();
    const client = new DiscoveryClient({
      endpoint: `http://${discovery.address}`,
      clusterId: "wsk-clock-step",
      clusterSecret: Buffer.alloc(32, 7).toString("base64"),
      affiliateId: "clock",
      port: 51820,
      ttlMs: 4_000, // refresh every 2 s
    });
    cleanups.push(() => client.stop({ deleteAffiliate: false }));
    client.setLocalData(
      {
        nodeId: "clock",
        addresses: ["198.18.0.1"],
        hostname: "clock",
        nodename: "",
        machineType: "worker",
        operatingSystem: "wirespan",
        kubespan: null,
        controlPlane: null,
      },
      ["198.18.0.1:51820"],
    );
    client.start();
    await waitFor("first update", () => client.stats.updatesSent >= 1, 5_000);
    const sent = client.stats.updatesSent;
    stepWallClock(-HourMs);
    // The refresh is due 2 s after the first update; with the step seen as a negative
    // duration the next one would come only 2 s later still.
    await new Promise((r) => setTimeout(r, 3_200));
    expect(client.stats.updatesSent).toBeGreaterThan(sent);
  });
});
