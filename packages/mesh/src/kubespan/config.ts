/**
 * The mesh configuration file: the subset of the Talos machine config that KubeSpan uses
 * (reference/kubespan.md §4.7), plus wirespan's own `interface`, `port` and
 * `advertisedNetworks`. Unknown keys and wrong types are rejected with the key's path.
 */
import { randomBytes } from "node:crypto";
import { hostname as osHostname } from "node:os";
import { formatCidr, parseCidr } from "@wirespan/noise";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { parseHostPort } from "../proxy/proxy-config.js";
import { KubeSpanDefaultInterface, KubeSpanDefaultMtu, KubeSpanDefaultPort } from "./constants.js";
import { clusterSecretKey } from "./discovery-crypto.js";
import { parseDiscoveryEndpoint } from "./discovery-endpoint.js";
import { canonicalIpPort } from "./ip-port.js";

export interface KubeSpanConfig {
  readonly enabled: boolean;
  readonly interface: string;
  readonly port: number;
  readonly mtu: number;
  readonly allowDownPeerBypass: boolean;
  readonly advertiseKubernetesNetworks: boolean;
  /** Canonical CIDRs routed to this node through the mesh. */
  readonly advertisedNetworks: readonly string[];
  readonly harvestExtraEndpoints: boolean;
  /** Canonical `ip:port`. */
  readonly extraAnnouncedEndpoints: readonly string[];
  readonly filters: {
    /** Ordered rules, each `CIDR` or `!CIDR`, canonical (§4.3). */
    readonly endpoints: readonly string[];
  };
  /**
   * wirespan NAT traversal (issue #12): STUN servers (`ip:port`) for reflexive endpoints, and
   * relay URLs (`wss://host:port/wirespan/relay`) in order of preference. Either one switches
   * NAT traversal on (path probes between wirespan nodes, relay fallback).
   */
  readonly stunServers?: readonly string[];
  readonly relays?: readonly string[];
  /** wirespan's own: run the node on the userspace TCP/IP stack (no TUN, no root). */
  readonly netstack: NetstackModeConfig;
}

/** `machine.network.kubespan.netstack`: the rootless mode and its front-ends. */
export interface NetstackModeConfig {
  readonly enabled: boolean;
  /** SOCKS5 proxy into the mesh (`ip:port`, loopback unless given). */
  readonly socks5?: { readonly host: string; readonly port: number };
  /** HTTP proxy into the mesh. */
  readonly http?: { readonly host: string; readonly port: number };
  /** Inbound: a port on our KubeSpan address handed to a local service. */
  readonly forwards: ReadonlyArray<{
    readonly protocol: "tcp" | "udp";
    readonly port: number;
    readonly target: { readonly host: string; readonly port: number };
  }>;
}

export interface MeshConfig {
  readonly hostname: string;
  readonly kubespan: KubeSpanConfig;
  readonly cluster: {
    /** Sent verbatim as the discovery `cluster_id` and hashed for the ULA prefix (§2.1, §3). */
    readonly id: string;
    /** Base64 of 32 bytes: the discovery AES key and the WireGuard preshared key (§2.1). */
    readonly secret: string;
    readonly discovery: {
      readonly enabled: boolean;
      readonly service: { readonly enabled: boolean; readonly endpoint: string };
    };
  };
}

/**
 * Where discovery points when the config does not say: the self-hosted service's default port
 * on this host (§1.1). Talos's public service must be configured explicitly.
 */
export const DefaultDiscoveryEndpoint = "http://127.0.0.1:3000";
export const DefaultEndpointFilters: readonly string[] = ["0.0.0.0/0", "::/0"];

/**
 * A configuration error; the message starts with the offending key's path. Branch on `code`
 * (stable across releases and across copies of the package), not on `instanceof`.
 */
export class ConfigError extends Error {
  readonly code = "ERR_WIRESPAN_CONFIG";
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(path ? `${path}: ${detail}` : detail);
    this.name = "ConfigError";
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `path.key`, or just `key` at the top level (no leading dot). */
function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Checks `v` is a mapping with only `allowed` keys; null/undefined count as empty. */
function mapping(v: unknown, path: string, allowed: readonly string[]): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(path, "expected a mapping");
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) throw new ConfigError(at(path, key), "unknown key");
  }
  return v;
}

function bool(o: Obj, key: string, path: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== "boolean") throw new ConfigError(at(path, key), "expected a boolean");
  return v;
}

function str(o: Obj, key: string, path: string, def: string | undefined): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (def === undefined) throw new ConfigError(at(path, key), "required");
    return def;
  }
  if (typeof v !== "string") throw new ConfigError(at(path, key), "expected a string");
  return v;
}

function int(o: Obj, key: string, path: string, def: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== "number") throw new ConfigError(at(path, key), "expected a number");
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(at(path, key), `expected an integer in ${min}..${max}`);
  }
  return v;
}

function strList(
  o: Obj,
  key: string,
  path: string,
  def: readonly string[],
  check: (item: string) => string,
): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [...def];
  if (!Array.isArray(v)) throw new ConfigError(at(path, key), "expected a list");
  return v.map((item, i) => {
    const p = `${at(path, key)}[${i}]`;
    if (typeof item !== "string") throw new ConfigError(p, "expected a string");
    try {
      return check(item);
    } catch (e) {
      throw new ConfigError(p, (e as Error).message);
    }
  });
}

/** Canonical form of an endpoint filter rule: `CIDR`, bare IP, or `!` + either (§4.3). */
export function canonicalFilterRule(rule: string): string {
  const negated = rule.startsWith("!");
  const cidr = formatCidr(parseCidr(negated ? rule.slice(1) : rule));
  return negated ? `!${cidr}` : cidr;
}

const canonicalCidr = (text: string) => formatCidr(parseCidr(text));

/** A relay URL: `wss://` (or `ws://` for tests and TLS-terminating proxies) with a host. */
function relayUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${text}`);
  }
  if ((url.protocol !== "wss:" && url.protocol !== "ws:") || !url.host) {
    throw new Error("expected a wss:// (or ws://) relay URL");
  }
  return text;
}

/** `ip:port` (a bare port = loopback) for a listener; `host:port` with names for a target. */
function hostPort(v: unknown, path: string, target: boolean): { host: string; port: number } {
  if (typeof v === "number" && !target && Number.isInteger(v) && v > 0 && v < 65536) {
    return { host: "127.0.0.1", port: v };
  }
  const hp = typeof v === "string" ? parseHostPort(v, target) : null;
  if (!hp || hp.port === 0) {
    throw new ConfigError(path, target ? "expected host:port" : "expected ip:port or a port");
  }
  return hp;
}

function netstackMode(v: unknown, path: string): NetstackModeConfig {
  const o = mapping(v, path, ["enabled", "socks5", "http", "forwards"]);
  const forwards = o.forwards ?? [];
  if (!Array.isArray(forwards)) throw new ConfigError(`${path}.forwards`, "expected a list");
  return {
    enabled: bool(o, "enabled", path, false),
    socks5: o.socks5 == null ? undefined : hostPort(o.socks5, `${path}.socks5`, false),
    http: o.http == null ? undefined : hostPort(o.http, `${path}.http`, false),
    forwards: forwards.map((f, i) => {
      const p = `${path}.forwards[${i}]`;
      const m = mapping(f, p, ["protocol", "port", "target"]);
      const protocol = str(m, "protocol", p, "tcp");
      if (protocol !== "tcp" && protocol !== "udp") {
        throw new ConfigError(`${p}.protocol`, "expected tcp or udp");
      }
      if (m.port === undefined || m.port === null) throw new ConfigError(`${p}.port`, "required");
      return {
        protocol,
        port: int(m, "port", p, 0, 1, 65535),
        target: hostPort(str(m, "target", p, undefined), `${p}.target`, true),
      };
    }),
  };
}

/** Parses and validates a config file's text, filling in defaults. Throws {@link ConfigError}. */
export function loadConfig(text: string): MeshConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError("", `invalid YAML: ${(e as Error).message}`);
  }
  const top = mapping(doc, "", ["version", "machine", "cluster"]);
  if (top.version !== undefined && top.version !== null) str(top, "version", "", undefined);

  const machine = mapping(top.machine, "machine", ["network"]);
  const network = mapping(machine.network, "machine.network", ["hostname", "kubespan"]);
  const hostname = str(network, "hostname", "machine.network", osHostname());
  const ksPath = "machine.network.kubespan";
  const ks = mapping(network.kubespan, ksPath, [
    "enabled",
    "interface",
    "port",
    "mtu",
    "allowDownPeerBypass",
    "advertiseKubernetesNetworks",
    "advertisedNetworks",
    "harvestExtraEndpoints",
    "extraAnnouncedEndpoints",
    "filters",
    "stunServers",
    "relays",
    "netstack",
  ]);
  const iface = str(ks, "interface", ksPath, KubeSpanDefaultInterface);
  // Linux IFNAMSIZ is 16 including the NUL; no slashes, whitespace or colons.
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(iface)) {
    throw new ConfigError(`${ksPath}.interface`, "expected an interface name of 1..15 characters");
  }
  const filters = mapping(ks.filters, `${ksPath}.filters`, ["endpoints"]);
  const kubespan: KubeSpanConfig = {
    enabled: bool(ks, "enabled", ksPath, false),
    interface: iface,
    port: int(ks, "port", ksPath, KubeSpanDefaultPort, 1, 65535),
    // 1280 is the IPv6 minimum link MTU (RFC 8200 §5), which the ULA overlay needs (§4.6).
    mtu: int(ks, "mtu", ksPath, KubeSpanDefaultMtu, 1280, 65535),
    allowDownPeerBypass: bool(ks, "allowDownPeerBypass", ksPath, false),
    advertiseKubernetesNetworks: bool(ks, "advertiseKubernetesNetworks", ksPath, false),
    advertisedNetworks: strList(ks, "advertisedNetworks", ksPath, [], canonicalCidr),
    harvestExtraEndpoints: bool(ks, "harvestExtraEndpoints", ksPath, false),
    extraAnnouncedEndpoints: strList(ks, "extraAnnouncedEndpoints", ksPath, [], canonicalIpPort),
    filters: {
      endpoints: strList(
        filters,
        "endpoints",
        `${ksPath}.filters`,
        DefaultEndpointFilters,
        canonicalFilterRule,
      ),
    },
    stunServers: strList(ks, "stunServers", ksPath, [], canonicalIpPort),
    relays: strList(ks, "relays", ksPath, [], relayUrl),
    netstack: netstackMode(ks.netstack, `${ksPath}.netstack`),
  };

  const cluster = mapping(top.cluster, "cluster", ["id", "secret", "discovery"]);
  const id = str(cluster, "id", "cluster", undefined);
  // The discovery service refuses empty IDs and IDs over 256 bytes (§1.3).
  if (id.length === 0 || Buffer.byteLength(id) > 256) {
    throw new ConfigError("cluster.id", "expected 1..256 bytes");
  }
  const secret = str(cluster, "secret", "cluster", undefined);
  try {
    clusterSecretKey(secret);
  } catch (e) {
    throw new ConfigError("cluster.secret", (e as Error).message);
  }
  const discovery = mapping(cluster.discovery, "cluster.discovery", ["enabled", "registries"]);
  const registries = mapping(discovery.registries, "cluster.discovery.registries", [
    "service",
    "kubernetes",
  ]);
  const svcPath = "cluster.discovery.registries.service";
  const service = mapping(registries.service, svcPath, ["disabled", "endpoint"]);
  // Accepted for compatibility with Talos configs; wirespan has no Kubernetes registry.
  const k8s = mapping(registries.kubernetes, "cluster.discovery.registries.kubernetes", [
    "disabled",
  ]);
  bool(k8s, "disabled", "cluster.discovery.registries.kubernetes", true);
  const endpoint = str(service, "endpoint", svcPath, DefaultDiscoveryEndpoint);
  try {
    parseDiscoveryEndpoint(endpoint);
  } catch (e) {
    throw new ConfigError(`${svcPath}.endpoint`, (e as Error).message);
  }
  return {
    hostname,
    kubespan,
    cluster: {
      id,
      secret,
      discovery: {
        enabled: bool(discovery, "enabled", "cluster.discovery", true),
        service: { enabled: !bool(service, "disabled", svcPath, false), endpoint },
      },
    },
  };
}

export interface GenerateConfigOptions {
  readonly hostname?: string;
  readonly discoveryEndpoint?: string;
}

/**
 * A fresh config (for `wirespan gen config`): KubeSpan and discovery enabled, a new random
 * cluster ID and secret (base64 of 32 random bytes each, §2.1).
 */
export function generateConfig(hostnameOrOptions?: string | GenerateConfigOptions): string {
  const opts =
    typeof hostnameOrOptions === "string"
      ? { hostname: hostnameOrOptions }
      : (hostnameOrOptions ?? {});
  const doc = {
    machine: {
      network: {
        hostname: opts.hostname ?? osHostname(),
        kubespan: {
          enabled: true,
          interface: KubeSpanDefaultInterface,
          port: KubeSpanDefaultPort,
          mtu: KubeSpanDefaultMtu,
          allowDownPeerBypass: false,
          advertiseKubernetesNetworks: false,
          advertisedNetworks: [],
          harvestExtraEndpoints: false,
          extraAnnouncedEndpoints: [],
          filters: { endpoints: [...DefaultEndpointFilters] },
        },
      },
    },
    cluster: {
      id: randomBytes(32).toString("base64"),
      secret: randomBytes(32).toString("base64"),
      discovery: {
        enabled: true,
        registries: { service: { endpoint: opts.discoveryEndpoint ?? DefaultDiscoveryEndpoint } },
      },
    },
  };
  const text = stringifyYaml(doc);
  loadConfig(text); // the generator never writes a config the loader refuses
  return text;
}
