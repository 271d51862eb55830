import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ConfigError, generateConfig, loadConfig } from "../src/kubespan/config.js";
import { parseDiscoveryEndpoint } from "../src/kubespan/discovery-endpoint.js";

const id = Buffer.alloc(32, 1).toString("base64");
const secret = Buffer.alloc(32, 2).toString("base64");

const full = `
machine:
  network:
    hostname: node-1
    kubespan:
      enabled: true
      interface: kubespan
      port: 51820
      mtu: 1420
      allowDownPeerBypass: false
      advertiseKubernetesNetworks: false
      advertisedNetworks: ["198.19.5.0/24"]
      harvestExtraEndpoints: false
      extraAnnouncedEndpoints: ["198.18.9.9:40000", "[FD00::9]:51820"]
      filters:
        endpoints: ["0.0.0.0/0", "!198.18.3.0/24", "::/0"]
cluster:
  id: ${id}
  secret: ${secret}
  discovery:
    enabled: true
    registries:
      service:
        endpoint: http://198.18.2.254:3000
`;

const minimal = (extra = "") => `cluster:\n  id: ${id}\n  secret: ${secret}\n${extra}`;

function errorOf(text: string): string {
  try {
    loadConfig(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("reads the documented example", () => {
    const c = loadConfig(full);
    expect(c.hostname).toBe("node-1");
    expect(c.kubespan).toEqual({
      enabled: true,
      interface: "kubespan",
      port: 51820,
      mtu: 1420,
      allowDownPeerBypass: false,
      advertiseKubernetesNetworks: false,
      advertisedNetworks: ["198.19.5.0/24"],
      harvestExtraEndpoints: false,
      extraAnnouncedEndpoints: ["198.18.9.9:40000", "[fd00::9]:51820"],
      filters: { endpoints: ["0.0.0.0/0", "!198.18.3.0/24", "::/0"] },
      stunServers: [],
      relays: [],
      netstack: { enabled: false, socks5: undefined, http: undefined, forwards: [] },
    });
    expect(c.cluster).toEqual({
      id,
      secret,
      discovery: {
        enabled: true,
        service: { enabled: true, endpoint: "http://198.18.2.254:3000" },
      },
    });
  });

  it("reads the netstack mode (rootless node, proxy, inbound forwards) and names bad keys", () => {
    const doc = parse(full);
    doc.machine.network.kubespan.netstack = {
      enabled: true,
      socks5: 1080,
      http: "[::1]:8080",
      forwards: [
        { port: 8000, target: "localhost:80" },
        { protocol: "udp", port: 53, target: "127.0.0.1:5353" },
      ],
    };
    expect(loadConfig(stringify(doc)).kubespan.netstack).toEqual({
      enabled: true,
      socks5: { host: "127.0.0.1", port: 1080 },
      http: { host: "::1", port: 8080 },
      forwards: [
        { protocol: "tcp", port: 8000, target: { host: "localhost", port: 80 } },
        { protocol: "udp", port: 53, target: { host: "127.0.0.1", port: 5353 } },
      ],
    });
    doc.machine.network.kubespan.netstack.forwards[1].protocol = "sctp";
    expect(() => loadConfig(stringify(doc))).toThrow(
      /netstack\.forwards\[1\]\.protocol: expected tcp or udp/,
    );
    doc.machine.network.kubespan.netstack.forwards = [{ target: "127.0.0.1:1" }];
    expect(() => loadConfig(stringify(doc))).toThrow(/netstack\.forwards\[0\]\.port: required/);
    doc.machine.network.kubespan.netstack = { socks5: "localhost:1080" };
    expect(() => loadConfig(stringify(doc))).toThrow(
      /netstack\.socks5: expected ip:port or a port/,
    );
  });

  it("fills in Talos's defaults (§4.7) and ours", () => {
    const c = loadConfig(minimal());
    expect(c.kubespan.enabled).toBe(false);
    expect(c.kubespan.interface).toBe("kubespan");
    expect(c.kubespan.port).toBe(51820);
    expect(c.kubespan.mtu).toBe(1420);
    expect(c.kubespan.allowDownPeerBypass).toBe(false);
    expect(c.kubespan.harvestExtraEndpoints).toBe(false);
    expect(c.kubespan.filters.endpoints).toEqual(["0.0.0.0/0", "::/0"]);
    expect(c.cluster.discovery.enabled).toBe(true);
    expect(c.cluster.discovery.service.endpoint).toBe("http://127.0.0.1:3000");
    expect(c.hostname.length).toBeGreaterThan(0);
  });

  it("names the offending key", () => {
    const ks = (body: string) => `machine:\n  network:\n    kubespan:\n      ${body}\n${minimal()}`;
    expect(errorOf(ks("mtu: big"))).toBe("machine.network.kubespan.mtu: expected a number");
    expect(errorOf(ks("mtu: 1000"))).toMatch(
      /^machine\.network\.kubespan\.mtu: expected an integer/,
    );
    expect(errorOf(ks("enabled: yes please"))).toBe(
      "machine.network.kubespan.enabled: expected a boolean",
    );
    expect(errorOf(ks("port: 70000"))).toMatch(/^machine\.network\.kubespan\.port:/);
    expect(errorOf(ks("mystery: 1"))).toBe("machine.network.kubespan.mystery: unknown key");
    expect(errorOf(ks('advertisedNetworks: ["198.19.0.0/33"]'))).toMatch(
      /^machine\.network\.kubespan\.advertisedNetworks\[0\]: invalid CIDR/,
    );
    expect(errorOf(ks('extraAnnouncedEndpoints: ["198.18.0.1"]'))).toMatch(
      /^machine\.network\.kubespan\.extraAnnouncedEndpoints\[0\]: invalid endpoint/,
    );
    expect(errorOf(ks('filters:\n        endpoints: ["!nope"]'))).toMatch(
      /^machine\.network\.kubespan\.filters\.endpoints\[0\]:/,
    );
    expect(errorOf(ks("interface: bad/name"))).toMatch(/^machine\.network\.kubespan\.interface:/);
    expect(errorOf(`extra: 1\n${minimal()}`)).toBe("extra: unknown key");
    expect(errorOf(`cluster:\n  secret: ${secret}\n`)).toBe("cluster.id: required");
    expect(errorOf(`cluster:\n  id: x\n  secret: abc\n`)).toMatch(/^cluster\.secret:/);
    expect(
      errorOf(
        minimal("  discovery:\n    registries:\n      service:\n        endpoint: grpc://x\n"),
      ),
    ).toMatch(/^cluster\.discovery\.registries\.service\.endpoint: .*scheme/);
    expect(errorOf("machine: [1, 2]\n")).toBe("machine: expected a mapping");
    expect(errorOf("a: [\n")).toMatch(/^invalid YAML/);
  });

  it("accepts negated bare IPs and canonicalises filter rules", () => {
    const c = loadConfig(
      `machine:\n  network:\n    kubespan:\n      filters:\n        endpoints: ["!198.18.0.7", "FD00::/8"]\n${minimal()}`,
    );
    expect(c.kubespan.filters.endpoints).toEqual(["!198.18.0.7/32", "fd00::/8"]);
  });
});

describe("generateConfig", () => {
  it("writes a loadable config with fresh 32-byte cluster ID and secret", () => {
    const a = loadConfig(generateConfig("node-7"));
    const b = loadConfig(
      generateConfig({ hostname: "node-8", discoveryEndpoint: "http://[::1]:3000" }),
    );
    expect(a.hostname).toBe("node-7");
    expect(a.kubespan.enabled).toBe(true);
    expect(Buffer.from(a.cluster.id, "base64").length).toBe(32);
    expect(Buffer.from(a.cluster.secret, "base64").length).toBe(32);
    expect(a.cluster.id).not.toBe(b.cluster.id);
    expect(a.cluster.secret).not.toBe(b.cluster.secret);
    expect(b.cluster.discovery.service.endpoint).toBe("http://[::1]:3000");
    expect(parse(generateConfig("x")).machine.network.kubespan.filters.endpoints).toEqual([
      "0.0.0.0/0",
      "::/0",
    ]);
  });
});

describe("discovery endpoint URLs (reference §1.1)", () => {
  it("normalises like Talos", () => {
    expect(parseDiscoveryEndpoint("https://discovery.talos.dev/")).toEqual({
      target: "discovery.talos.dev:443",
      tls: true,
    });
    expect(parseDiscoveryEndpoint("http://198.18.2.254:3000")).toEqual({
      target: "198.18.2.254:3000",
      tls: false,
    });
    expect(parseDiscoveryEndpoint("http://[::1]")).toEqual({ target: "[::1]:80", tls: false });
    expect(() => parseDiscoveryEndpoint("198.18.2.254:3000")).toThrow();
    expect(() => parseDiscoveryEndpoint("http://h/path")).toThrow();
  });
});
