/**
 * A reconcile pass costs the peers that changed or are due, not every peer (issue #13 item 4):
 * the agenda (peer-agenda.ts) against a plain model, and the reconciler reading only the peers
 * it visits from the Device.
 */
import "../../../test/support/fast-check-seed.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DiscoveredAffiliate } from "../src/kubespan/affiliate.js";
import { PeerAgenda } from "../src/kubespan/peer-agenda.js";
import { type DeviceView, PeerReconciler } from "../src/kubespan/peer-reconciler.js";
import type { PeerSnapshot } from "../src/kubespan/peer-status.js";
import { DefaultPeerStatusTimings } from "../src/kubespan/peer-status.js";
import { silentLogger } from "../src/logger.js";

describe("peer agenda", () => {
  it("takes exactly the dirty peers and those due, each once, whatever the order of changes", () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant("schedule" as const), key: fc.nat(7), at: fc.nat(100) }),
      fc.record({ op: fc.constant("never" as const), key: fc.nat(7) }),
      fc.record({ op: fc.constant("dirty" as const), key: fc.nat(7) }),
      fc.record({ op: fc.constant("drop" as const), key: fc.nat(7) }),
      fc.record({ op: fc.constant("take" as const), now: fc.nat(100) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const agenda = new PeerAgenda();
        const deadline = new Map<string, number>();
        const dirty = new Set<string>();
        for (const o of ops) {
          if (o.op === "take") {
            const want = new Set(dirty);
            for (const [k, at] of deadline) if (at <= o.now) want.add(k);
            const next = agenda.next(o.now);
            const earliest = Math.min(...deadline.values());
            expect(next).toBe(dirty.size > 0 ? o.now : deadline.size > 0 ? earliest : undefined);
            expect(agenda.take(o.now)).toEqual(want);
            dirty.clear();
            for (const [k, at] of deadline) if (at <= o.now) deadline.delete(k);
            continue;
          }
          const key = `k${o.key}`;
          if (o.op === "schedule") {
            agenda.schedule(key, o.at);
            deadline.set(key, o.at);
          } else if (o.op === "never") {
            agenda.schedule(key, Infinity);
            deadline.delete(key);
          } else if (o.op === "dirty") {
            agenda.markDirty(key);
            dirty.add(key);
          } else {
            agenda.drop(key);
            deadline.delete(key);
            dirty.delete(key);
          }
        }
      }),
    );
  });
});

const key = (n: number) => Buffer.alloc(32, n + 1).toString("base64");

function affiliate(n: number): DiscoveredAffiliate {
  return {
    id: `node-${n}`,
    endpoints: [`198.18.0.${n + 1}:51820`],
    data: {
      nodeId: `node-${n}`,
      addresses: [`198.18.0.${n + 1}`],
      hostname: `node-${n}`,
      nodename: "",
      machineType: "worker",
      operatingSystem: "",
      kubespan: { publicKey: key(n), address: `fd00::${n + 1}`, additionalAddresses: [] },
      controlPlane: null,
    },
  };
}

/** A Device that has every peer once configured, and counts the peers read. */
class CountingDevice implements DeviceView {
  reads = 0;
  readonly peers = new Set<string>();
  activity(publicKey: string): PeerSnapshot | null {
    this.reads++;
    if (!this.peers.has(publicKey)) return null;
    return { endpoint: null, lastHandshakeNs: 0n, rxBytes: 0n, txBytes: 0n };
  }
  keys(): Iterable<string> {
    return this.peers;
  }
}

describe("reconcile pass work", () => {
  it("visits and reads only the peers that changed, after the first sweep", () => {
    const peers = 100;
    const r = new PeerReconciler({
      nodeId: "self",
      publicKey: Buffer.alloc(32, 255).toString("base64"),
      subnet: "fd00::/64",
      ownAddresses: () => [],
      presharedKey: Buffer.alloc(32, 7).toString("base64"),
      timings: DefaultPeerStatusTimings,
      logger: silentLogger,
    });
    const all = new Map(Array.from({ length: peers }, (_, n) => [`node-${n}`, affiliate(n)]));
    r.setAffiliates(all);
    r.refreshSpecs();
    const device = new CountingDevice();
    const first = r.plan(device, 0, 1_000_000);
    expect(first.swept).toBe(true);
    expect(first.changes).toHaveLength(peers); // every peer configured once
    for (const c of first.changes) device.peers.add(c.publicKey);
    expect(r.work.peerVisits).toBe(peers);

    // A Device event about one peer: one visit, one read.
    device.reads = 0;
    r.markDirty(key(42));
    r.plan(device, 10, 1_000_010);
    expect(r.work.peerVisits).toBe(peers + 1);
    expect(device.reads).toBe(1);

    // One affiliate's endpoints change: only its peer is visited.
    device.reads = 0;
    all.set("node-7", { ...affiliate(7), endpoints: ["198.18.9.9:51820"] });
    r.setAffiliates(new Map(all));
    expect(r.refreshSpecs()).toBe(true);
    const plan = r.plan(device, 20, 1_000_020);
    expect(r.work.peerVisits).toBe(peers + 2);
    expect(device.reads).toBe(1);
    expect(plan.changes.map((c) => c.publicKey)).toEqual(plan.changes.length === 0 ? [] : [key(7)]);

    // One affiliate leaves: its device peer is removed without visiting the others.
    device.reads = 0;
    all.delete("node-3");
    r.setAffiliates(new Map(all));
    r.refreshSpecs();
    const gone = r.plan(device, 30, 1_000_030);
    expect(gone.changes).toEqual([{ publicKey: key(3), remove: true }]);
    expect(r.work.peerVisits).toBe(peers + 2);

    // Until the peers' own deadlines come (here the keepalive of the second initiators).
    const next = r.nextDeadline(30, 30_000);
    expect(next).toBeGreaterThan(30);
    expect(next).toBeLessThan(30_000);
    r.plan(device, next, 1_000_000 + next);
    expect(r.work.peerVisits).toBeGreaterThan(peers + 2);
  });
});
