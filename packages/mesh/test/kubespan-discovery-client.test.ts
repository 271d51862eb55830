import { afterEach, describe, expect, it } from "vitest";
import { DiscoveryServer } from "../src/discovery/server.js";
import type { AffiliateData } from "../src/kubespan/affiliate.js";
import { DefaultBackoff, jitteredMs, nextBackoffMs } from "../src/kubespan/discovery-backoff.js";
import { DiscoveryClient, type DiscoveryClientOptions } from "../src/kubespan/discovery-client.js";

const clusterId = "wsk-test-cluster";
const secret = Buffer.alloc(32, 5).toString("base64");
const fastBackoff = { initialMs: 50, maxMs: 200, multiplier: 2, jitter: 0 };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

async function server(options: { listen?: string; redirectEndpoint?: string } = {}) {
  const s = await DiscoveryServer.start({ listen: options.listen ?? "127.0.0.1:0", ...options });
  cleanups.push(() => s.close());
  return s;
}

function client(address: string, affiliateId: string, over: Partial<DiscoveryClientOptions> = {}) {
  const c = new DiscoveryClient({
    endpoint: `http://${address}`,
    clusterId,
    clusterSecret: secret,
    affiliateId,
    port: 51820,
    clientVersion: "wirespan-test",
    backoff: fastBackoff,
    ...over,
  });
  cleanups.push(() => c.stop({ deleteAffiliate: false }));
  return c;
}

function data(id: string, n: number, hostname = `node-${n}`): AffiliateData {
  return {
    nodeId: id,
    addresses: [`198.18.0.${n}`],
    hostname,
    nodename: "",
    machineType: "worker",
    operatingSystem: "wirespan",
    kubespan: {
      publicKey: Buffer.alloc(32, n).toString("base64"),
      address: `fd00::${n}`,
      additionalAddresses: [],
    },
    controlPlane: null,
  };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("discovery client against the wirespan discovery server", () => {
  it("two clients see each other's decrypted affiliates, updates and deletes", async () => {
    const s = await server();
    const a = client(s.address, "node-a");
    const b = client(s.address, "node-b");
    let events = 0;
    a.on("affiliates", () => events++);
    a.setLocalData(data("node-a", 1), ["198.18.0.1:51820"]);
    b.setLocalData(data("node-b", 2), ["198.18.0.2:51820", "[fd01::2]:51820"]);
    a.start();
    b.start();

    await waitFor(
      () => a.affiliates.has("node-b") && b.affiliates.has("node-a"),
      "mutual discovery",
    );
    const seen = a.affiliates.get("node-b")!;
    expect(seen.data).toEqual(data("node-b", 2));
    // The Hello client_ip (loopback here) is published with the node's port.
    await waitFor(() => a.affiliates.get("node-b")!.endpoints.length === 3, "client_ip endpoint");
    expect(a.affiliates.get("node-b")!.endpoints).toEqual([
      "198.18.0.2:51820",
      "[fd01::2]:51820",
      "127.0.0.1:51820",
    ]);
    expect(a.publicIp).toBe("127.0.0.1");
    expect(a.affiliates.has("node-a")).toBe(false); // own affiliate filtered
    expect(events).toBeGreaterThan(0);
    await waitFor(() => a.connected, "own update acknowledged");

    // An update reaches the other side; an identical update is not re-sent.
    const sent = b.stats.updatesSent;
    b.setLocalData(data("node-b", 2), ["198.18.0.2:51820", "[fd01::2]:51820"]);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.stats.updatesSent).toBe(sent);
    b.setLocalData(data("node-b", 2, "renamed"), ["198.18.0.2:51820"]);
    await waitFor(() => a.affiliates.get("node-b")?.data.hostname === "renamed", "update");

    // List gives the same decrypted view.
    const listed = await a.list();
    expect([...listed.keys()]).toEqual(["node-b"]);
    expect(listed.get("node-b")!.data.hostname).toBe("renamed");

    // Stopping with delete removes the affiliate for everyone at once.
    await b.stop();
    await waitFor(() => !a.affiliates.has("node-b"), "delete");
  });

  it("drops affiliates sealed with another secret and counts them", async () => {
    const s = await server();
    const a = client(s.address, "node-a");
    const intruder = client(s.address, "node-x", {
      clusterSecret: Buffer.alloc(32, 6).toString("base64"),
    });
    const b = client(s.address, "node-b");
    a.setLocalData(data("node-a", 1), []);
    intruder.setLocalData(data("node-x", 9), []);
    b.setLocalData(data("node-b", 2), []);
    intruder.start();
    b.start();
    a.start();
    await waitFor(() => a.affiliates.has("node-b"), "node-b");
    await waitFor(() => a.stats.droppedDecryptFailures > 0, "decrypt failure counted");
    expect(a.affiliates.has("node-x")).toBe(false);
  });

  it("reconnects with backoff after the server restarts and republishes", async () => {
    const s1 = await DiscoveryServer.start({ listen: "127.0.0.1:0" });
    const address = s1.address;
    const a = client(address, "node-a");
    const b = client(address, "node-b");
    a.setLocalData(data("node-a", 1), []);
    b.setLocalData(data("node-b", 2), []);
    a.start();
    b.start();
    await waitFor(() => a.affiliates.has("node-b") && b.affiliates.has("node-a"), "discovery");
    await s1.close();
    await waitFor(() => !a.connected, "disconnect noticed");
    // Down for a while: several backoff rounds fail.
    await new Promise((r) => setTimeout(r, 400));
    await server({ listen: address }); // empty registry, same address
    await waitFor(() => a.connected && b.connected, "reconnect");
    await waitFor(
      () => a.affiliates.has("node-b") && b.affiliates.has("node-a"),
      "re-published affiliates",
    );
    expect(a.stats.reconnects).toBeGreaterThan(0);
  });

  it("pushes data set while an update is in flight (not at the TTL/2 refresh)", async () => {
    // The NAT run (issue #12): a public node's home relay came up while its first
    // AffiliateUpdate was on the wire; that update carried no relay, and the change was only
    // due at TTL/2 (15 min), so a UDP-blocked peer never got a path to it.
    const s = await server();
    const a = client(s.address, "node-a");
    const b = client(s.address, "node-b");
    const first = data("node-a", 1, "before");
    const later = data("node-a", 1, "after");
    a.setLocalData(first, []);
    b.setLocalData(data("node-b", 2), []);
    const inner = a as unknown as { refresh: () => Promise<void> };
    const refresh = inner.refresh.bind(a);
    let calls = 0;
    inner.refresh = () => {
      const sent = refresh(); // the request is built now, with `first`
      if (calls++ === 0) a.setLocalData(later, []);
      return sent;
    };
    a.start();
    b.start();
    await waitFor(() => b.affiliates.get("node-a")?.data.hostname === "after", "the later data");
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it("follows a Hello redirect", async () => {
    const target = await server();
    const front = await server({ redirectEndpoint: target.address });
    const a = client(front.address, "node-a");
    const b = client(target.address, "node-b");
    a.setLocalData(data("node-a", 1), []);
    b.setLocalData(data("node-b", 2), []);
    a.start();
    b.start();
    await waitFor(() => a.affiliates.has("node-b"), "discovery through the redirect");
    expect(a.currentTarget).toBe(target.address);
    expect(a.stats.redirects).toBe(1);
  });
});

describe("reconnect backoff", () => {
  it("grows exponentially from 500 ms by 1.5 and is capped", () => {
    const seq: number[] = [];
    let d = 0;
    for (let i = 0; i < 15; i++) {
      d = nextBackoffMs(d, DefaultBackoff);
      seq.push(d);
    }
    expect(seq.slice(0, 4)).toEqual([500, 750, 1125, 1687.5]);
    expect(Math.max(...seq)).toBe(DefaultBackoff.maxMs);
    expect(seq.at(-1)).toBe(DefaultBackoff.maxMs);
  });

  it("jitter stays within nominal ± 50 %", () => {
    expect(jitteredMs(1000, 0.5, () => 0)).toBe(500);
    expect(jitteredMs(1000, 0.5, () => 0.999999)).toBeCloseTo(1500, 2);
    expect(jitteredMs(1000, 0, () => 0.3)).toBe(1000);
  });
});
