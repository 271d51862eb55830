import { parseCidr } from "@wirespan/noise";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AffiliateData, DiscoveredAffiliate } from "../src/kubespan/affiliate.js";
import { IpSet } from "../src/kubespan/ip-set.js";
import { buildPeerSpecs } from "../src/kubespan/peer-spec.js";

const key = (n: number) => Buffer.alloc(32, n).toString("base64");

function affiliate(
  id: string,
  n: number,
  over: Partial<AffiliateData> = {},
  endpoints: string[] = [],
  additional: string[] = [],
): DiscoveredAffiliate {
  return {
    id,
    endpoints,
    data: {
      nodeId: id,
      addresses: [`198.18.0.${n}`],
      hostname: `node-${n}`,
      nodename: "",
      machineType: "worker",
      operatingSystem: "",
      kubespan: { publicKey: key(n), address: `fd00::${n}`, additionalAddresses: additional },
      controlPlane: null,
      ...over,
    },
  };
}

const local = { nodeId: "self", publicKey: key(99) };

describe("peer specs from affiliates (reference §4.1)", () => {
  it("refuses and counts a default route, claims on this node and on other nodes' addresses", () => {
    const self = { ...local, addresses: ["198.18.0.99", "fd00::99", "198.19.99.0/24"] };
    const r = buildPeerSpecs(
      [
        // "a" sorts first, so Talos's first-wins would give it all of these.
        affiliate("a", 1, {}, [], ["0.0.0.0/0", "::/0", "198.18.0.0/24", "198.19.99.0/25"]),
        affiliate("b", 2),
        // Claims this node's own address as a node address and as its KubeSpan address.
        affiliate("c", 3, { addresses: ["198.18.0.99"] }),
      ],
      self,
    );
    const allowed = Object.fromEntries(r.peers.map((p) => [p.affiliateId, p.allowedIPs]));
    // a keeps its own addresses and what of 198.18.0.0/24 is neither ours nor b's or c's.
    expect(allowed.a).not.toContain("0.0.0.0/0");
    expect(allowed.a.some((c) => c.endsWith("/0"))).toBe(false);
    const a = IpSet.of(allowed.a.map((c) => parseCidr(c)));
    for (const ip of ["198.18.0.2/32", "198.18.0.99/32", "198.19.99.0/25", "fd00::3/128"]) {
      expect(a.overlaps(IpSet.of([parseCidr(ip)]))).toBe(false);
    }
    expect(a.overlaps(IpSet.of([parseCidr("198.18.0.7/32")]))).toBe(true);
    expect(allowed.b).toEqual(["198.18.0.2/32", "fd00::2/128"]);
    expect(allowed.c).toEqual(["fd00::3/128"]);
    // Two default routes, a's trims (ours, others'), c's claim on our address.
    expect(r.refusedClaims).toBe(5);
    expect(r.warnings.filter((w) => w.includes("refused"))).toHaveLength(5);
  });

  it("refuses a KubeSpan address outside the cluster subnet", () => {
    const r = buildPeerSpecs([affiliate("a", 1)], { ...local, subnet: "fd99::/64" });
    expect(r.peers[0].address).toBe("");
    expect(r.peers[0].allowedIPs).toEqual(["198.18.0.1/32"]);
    expect(r.refusedClaims).toBe(1);
  });

  it("one peer per other KubeSpan affiliate, sorted by affiliate ID", () => {
    const r = buildPeerSpecs(
      [
        affiliate("b", 2, {}, ["198.18.0.2:51820", "198.18.0.2:51820", "[fd01::2]:51820"]),
        affiliate("a", 1, {}, [], ["198.19.1.0/24"]),
        affiliate("self", 3),
        affiliate("c", 4, { kubespan: null }),
      ],
      local,
    );
    expect(r.warnings).toEqual([]);
    expect(r.peers).toEqual([
      {
        publicKey: key(1),
        affiliateId: "a",
        address: "fd00::1",
        label: "node-1",
        endpoints: [],
        allowedIPs: ["198.18.0.1/32", "198.19.1.0/24", "fd00::1/128"],
        persistentKeepalive: 25,
      },
      {
        publicKey: key(2),
        affiliateId: "b",
        address: "fd00::2",
        label: "node-2",
        endpoints: ["198.18.0.2:51820", "[fd01::2]:51820"],
        allowedIPs: ["198.18.0.2/32", "fd00::2/128"],
        persistentKeepalive: 25,
      },
    ]);
  });

  it("resolves overlaps first-wins by affiliate ID, with a warning", () => {
    const r = buildPeerSpecs(
      [affiliate("z", 2, {}, [], ["198.19.0.0/16"]), affiliate("a", 1, {}, [], ["198.19.0.0/24"])],
      local,
    );
    expect(r.peers.map((p) => p.affiliateId)).toEqual(["a", "z"]);
    expect(r.peers[0].allowedIPs).toEqual(["198.18.0.1/32", "198.19.0.0/24", "fd00::1/128"]);
    expect(r.peers[1].allowedIPs).toEqual([
      "198.18.0.2/32",
      "198.19.1.0/24",
      "198.19.2.0/23",
      "198.19.4.0/22",
      "198.19.8.0/21",
      "198.19.16.0/20",
      "198.19.32.0/19",
      "198.19.64.0/18",
      "198.19.128.0/17",
      "fd00::2/128",
    ]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/node-2 \(z\).*overlap/);
  });

  it("skips invalid and duplicate public keys, and our own key, with warnings", () => {
    const bad = affiliate("a", 1);
    const r = buildPeerSpecs(
      [
        { ...bad, data: { ...bad.data, kubespan: { ...bad.data.kubespan!, publicKey: "nope" } } },
        affiliate("b", 2),
        { ...affiliate("c", 3), data: { ...affiliate("c", 2).data, addresses: ["198.18.0.3"] } },
        { ...affiliate("d", 4), data: { ...affiliate("d", 99).data } },
      ],
      local,
    );
    expect(r.peers.map((p) => p.affiliateId)).toEqual(["b"]);
    expect(r.warnings).toHaveLength(3);
  });

  it("falls back to the node name for the label", () => {
    const r = buildPeerSpecs([affiliate("a", 1, { hostname: "", nodename: "k8s-a" })], local);
    expect(r.peers[0].label).toBe("k8s-a");
  });
});

describe("IpSet", () => {
  const arbPrefix = fc
    .tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 16, max: 32 }),
    )
    .map(([a, b, bits]) => parseCidr(`198.${a & 1 ? 19 : 18}.${a}.${b}/${bits}`));
  const member = (set: IpSet, ip: string) =>
    set.prefixes().some((p) => {
      const c = parseCidr(ip);
      return p.family === c.family && (p.bits === 0 || prefixHas(p, c.bytes));
    });
  const prefixHas = (p: ReturnType<typeof parseCidr>, bytes: Uint8Array) =>
    parseCidr(`${Array.from(bytes).join(".")}/${p.bits}`).bytes.every((v, i) => v === p.bytes[i]);

  it("minus/union keep exact membership and prefixes are minimal and disjoint", () => {
    fc.assert(
      fc.property(
        fc.array(arbPrefix, { maxLength: 4 }),
        fc.array(arbPrefix, { maxLength: 4 }),
        (xs, ys) => {
          const a = IpSet.of(xs);
          const b = IpSet.of(ys);
          const diff = a.minus(b);
          const union = a.union(b);
          expect(diff.overlaps(b)).toBe(false);
          for (const probe of [...xs, ...ys]) {
            const ip = `${Array.from(probe.bytes).join(".")}`;
            expect(member(union, ip)).toBe(member(a, ip) || member(b, ip));
            expect(member(diff, ip)).toBe(member(a, ip) && !member(b, ip));
          }
          // Canonical: rebuilding from its own prefixes gives the same list.
          expect(IpSet.of(union.prefixes()).toStrings()).toEqual(union.toStrings());
        },
      ),
      { numRuns: 200 },
    );
  });

  it("merges adjacent ranges into the minimal prefix list", () => {
    const s = IpSet.of(
      ["198.18.0.0/25", "198.18.0.128/25", "fd00::/65", "fd00:0:0:0:8000::/65"].map(parseCidr),
    );
    expect(s.toStrings()).toEqual(["198.18.0.0/24", "fd00::/64"]);
    expect(IpSet.of([parseCidr("0.0.0.0/0")]).toStrings()).toEqual(["0.0.0.0/0"]);
  });
});
