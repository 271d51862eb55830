/**
 * Shutdown and listener failures: every shutdown step runs even when one before it fails (the
 * Device's close handlers, the node's routing — nftables, rules, table 180), a failed close can
 * be retried, and a discovery listener that throws does not end the client's loop.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryTun } from "@wirespan/tun";
import { afterEach, describe, expect, it } from "vitest";
import type { Bind } from "../src/bind/bind.js";
import { MemoryNetwork } from "../src/bind/memory-bind.js";
import { Device } from "../src/device.js";
import { DiscoveryServer } from "../src/discovery/server.js";
import type { AffiliateData } from "../src/kubespan/affiliate.js";
import { DiscoveryClient } from "../src/kubespan/discovery-client.js";
import { newCluster, startLocalNode } from "../src/kubespan/local-mesh.js";
import type { MeshRouting } from "../src/kubespan/mesh-node-options.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A bind that fails to close (once, or always). */
function failingClose(inner: Bind, times = Infinity): Bind {
  let failures = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "close") {
        return async () => {
          if (failures++ < times) throw new Error("bind close failed");
          await target.close();
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Records what the node asks of the OS routing; `close` fails the first `failures` times. */
class FakeRouting implements MeshRouting {
  closes = 0;
  removed = false;
  constructor(private failures = 0) {}
  async update(): Promise<void> {}
  async close(): Promise<void> {
    this.closes++;
    if (this.failures-- > 0) throw new Error("nft delete failed");
    this.removed = true;
  }
}

function affiliate(id: string): AffiliateData {
  return {
    nodeId: id,
    addresses: ["198.18.0.9"],
    hostname: id,
    nodename: "",
    machineType: "worker",
    operatingSystem: "wirespan",
    kubespan: null,
    controlPlane: null,
  };
}

describe("shutdown", () => {
  it("Device.close closes the TUN and calls the close handlers when the bind fails to close", async () => {
    const tun = new MemoryTun("wsd0", 1420);
    const net = new MemoryNetwork();
    const device = await Device.create({ tun, bind: failingClose(net.bind("198.18.0.1")) });
    let tunClosed = false;
    tun.onClose(() => {
      tunClosed = true;
    });
    const reasons: (Error | null)[] = [];
    device.onClose((r) => reasons.push(r));
    await expect(device.close()).rejects.toThrow("bind close failed");
    expect(tunClosed).toBe(true);
    expect(reasons).toEqual([null]);
  });

  it("MeshNode.close removes routing although the Device fails to close, and a failed close can be retried", async () => {
    const discovery = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
    cleanups.push(() => discovery.close());
    const base = mkdtempSync(join(tmpdir(), "wsm-close-"));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const cluster = newCluster();
    const start = (name: string, routing: FakeRouting, wrapBind?: (b: Bind) => Bind) =>
      startLocalNode({
        cluster,
        discovery: `http://${discovery.address}`,
        hostname: name,
        stateDir: join(base, name),
        port: 0,
        routing,
        wrapBind,
      });

    // The Device's bind fails to close: routing is removed all the same.
    const r1 = new FakeRouting();
    const n1 = await start("s1", r1, (b) => failingClose(b, 1));
    await expect(n1.node.close()).rejects.toThrow("bind close failed");
    expect(r1.removed).toBe(true);

    // Routing fails to close once: the call says so, and calling again removes it.
    const r2 = new FakeRouting(1);
    const n2 = await start("s2", r2);
    await expect(n2.node.close()).rejects.toThrow("nft delete failed");
    expect(r2.removed).toBe(false);
    await n2.node.close();
    expect(r2.removed).toBe(true);
    expect(r2.closes).toBe(2);
  });

  it("a discovery listener that throws does not stop the client", async () => {
    const discovery = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
    cleanups.push(() => discovery.close());
    const make = (id: string) => {
      const c = new DiscoveryClient({
        endpoint: `http://${discovery.address}`,
        clusterId: "wsk-listener",
        clusterSecret: Buffer.alloc(32, 3).toString("base64"),
        affiliateId: id,
        port: 51820,
        backoff: { initialMs: 50, maxMs: 200, multiplier: 2, jitter: 0 },
      });
      cleanups.push(() => c.stop({ deleteAffiliate: false }));
      c.setLocalData(affiliate(id), []);
      return c;
    };
    const a = make("a");
    a.on("connected", () => {
      throw new Error("listener bug");
    });
    a.on("affiliates", () => {
      throw new Error("listener bug");
    });
    const seen: string[][] = [];
    a.on("affiliates", (all) => seen.push([...all.keys()]));
    a.start();
    await waitFor("a connected", () => a.connected);
    const b = make("b");
    b.start();
    await waitFor("a sees b", () => seen.some((ids) => ids.includes("b")));
    expect(a.stats.listenerErrors).toBeGreaterThanOrEqual(2);
    // The loop still runs: a local change is published.
    const sent = a.stats.updatesSent;
    a.setLocalData({ ...affiliate("a"), hostname: "a2" }, []);
    await waitFor("a republished", () => a.stats.updatesSent > sent);
  });
});
