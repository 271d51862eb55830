import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { KubeSpanIdentity } from "../src/kubespan/identity.js";
import type { PeerSpec } from "../src/kubespan/peer-spec.js";
import { PeerStatus } from "../src/kubespan/peer-status.js";
import {
  formatResources,
  type MeshStateView,
  observedEndpoints,
  resourceRows,
} from "../src/kubespan/resources.js";

const identity: KubeSpanIdentity = {
  address: "fd7f:175a:b97c:5602:2c1a:b6ff:fe53:8169/128",
  subnet: "fd7f:175a:b97c:5602::/64",
  privateKey: "SECRET-PRIVATE-KEY",
  publicKey: "PUB",
};
const keyA = Buffer.alloc(32, 1).toString("base64");
const keyB = Buffer.alloc(32, 2).toString("base64");
const spec = (publicKey: string, n: number): PeerSpec => ({
  publicKey,
  affiliateId: `aff-${n}`,
  address: `fd00::${n}`,
  label: `node-${n}`,
  endpoints: [`198.18.0.${n}:51820`, `[fd01::${n}]:51820`],
  allowedIPs: [`198.18.0.${n}/32`, `fd00::${n}/128`],
  persistentKeepalive: 25,
});

function view(): MeshStateView {
  const up = new PeerStatus("node-1");
  up.reconcile(["198.18.0.1:51820"], null, 1_700_000_000_000);
  up.reconcile(
    ["198.18.0.1:51820"],
    {
      endpoint: "198.18.0.1:51820",
      lastHandshakeNs: 1_700_000_001_000_000_000n,
      rxBytes: 1234n,
      txBytes: 5678n,
    },
    1_700_000_002_000,
  );
  const fresh = new PeerStatus("node-2");
  return {
    identity,
    peerSpecs: [spec(keyB, 2), spec(keyA, 1)],
    peerStatuses: new Map([
      [keyB, fresh],
      [keyA, up],
    ]),
  };
}

describe("resources for `wirespan get`", () => {
  it("identities: Talos field names; the private key only with showSecrets", () => {
    const rows = resourceRows("identities", view());
    expect(rows).toEqual([
      {
        id: "local",
        spec: { address: identity.address, subnet: identity.subnet, publicKey: "PUB" },
      },
    ]);
    for (const format of ["table", "json", "yaml"] as const) {
      expect(formatResources("identities", rows, format)).not.toContain("SECRET");
    }
    const secret = resourceRows("identities", view(), { showSecrets: true });
    expect(secret[0].spec.privateKey).toBe("SECRET-PRIVATE-KEY");
  });

  it("peerspecs and peerstatuses as JSON arrays of { id, spec }, sorted by ID", () => {
    const specs = JSON.parse(
      formatResources("peerspecs", resourceRows("peerspecs", view()), "json"),
    );
    expect(specs.map((r: { id: string }) => r.id)).toEqual([keyA, keyB].sort());
    expect(specs.find((r: { id: string }) => r.id === keyA).spec).toEqual({
      address: "fd00::1",
      allowedIPs: ["198.18.0.1/32", "fd00::1/128"],
      endpoints: ["198.18.0.1:51820", "[fd01::1]:51820"],
      label: "node-1",
    });
    const statuses = JSON.parse(
      formatResources("peerstatuses", resourceRows("peerstatuses", view()), "json"),
    );
    expect(statuses.find((r: { id: string }) => r.id === keyA).spec).toEqual({
      endpoint: "198.18.0.1:51820",
      label: "node-1",
      state: "up",
      receiveBytes: 1234,
      transmitBytes: 5678,
      lastHandshakeTime: "2023-11-14T22:13:21.000Z",
      lastUsedEndpoint: "198.18.0.1:51820",
      lastEndpointChange: "2023-11-14T22:13:20.000Z",
    });
    expect(statuses.find((r: { id: string }) => r.id === keyB).spec.lastHandshakeTime).toBe(
      "0001-01-01T00:00:00Z",
    );
  });

  it("endpoints: up peers with an endpoint, mapped to their affiliate", () => {
    expect(observedEndpoints(view())).toEqual([
      { publicKey: keyA, affiliateId: "aff-1", endpoint: "198.18.0.1:51820" },
    ]);
    expect(resourceRows("endpoints", view())).toEqual([
      { id: keyA, spec: { affiliateID: "aff-1", endpoint: "198.18.0.1:51820" } },
    ]);
  });

  it("tables have the talosctl get columns", () => {
    const table = formatResources("peerstatuses", resourceRows("peerstatuses", view()), "table");
    const lines = table.trimEnd().split("\n");
    expect(lines[0].split(/\s{2,}/)).toEqual([
      "NAMESPACE",
      "TYPE",
      "ID",
      "VERSION",
      "LABEL",
      "ENDPOINT",
      "STATE",
      "RX",
      "TX",
      "PATH",
    ]);
    const rowA = lines.find((l) => l.includes(keyA))!;
    expect(rowA.split(/\s+/)).toEqual([
      "kubespan",
      "KubeSpanPeerStatus",
      keyA,
      "1",
      "node-1",
      "198.18.0.1:51820",
      "up",
      "1234",
      "5678",
      "-",
    ]);
    const endpoints = formatResources("endpoints", resourceRows("endpoints", view()), "table");
    expect(endpoints.split("\n")[0]).toMatch(/ENDPOINT\s+AFFILIATE ID$/);
    const ids = formatResources("identities", resourceRows("identities", view()), "table");
    expect(ids.split("\n")[0]).toMatch(/ADDRESS\s+PUBLICKEY$/);
  });

  it("yaml output parses back to the same rows", () => {
    const rows = resourceRows("peerspecs", view());
    const docs = formatResources("peerspecs", rows, "yaml")
      .split("---\n")
      .map((d) => parse(d));
    expect(docs).toEqual(rows.map((r) => ({ id: r.id, spec: r.spec })));
  });
});
