/**
 * Mesh nodes inside one process, without root: each node gets a MemoryTun (the in-memory twin of
 * its TUN) and a UDP socket on 127.0.0.1, advertises exactly that endpoint, and does no OS
 * routing. Used by `pnpm start` (demo.ts) and the in-process mesh tests.
 */
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { parseIp } from "@wirespan/noise";
import { MemoryTun } from "@wirespan/tun";
import { stringify } from "yaml";
import type { Bind } from "../bind/bind.js";
import { UdpBind } from "../bind/udp-bind.js";
import type { Logger } from "../logger.js";
import { loadConfig, type MeshConfig } from "./config.js";
import { MeshNode } from "./controller.js";
import { identityAddressIp } from "./identity.js";
import type { MeshRouting } from "./mesh-node-options.js";
import type { PeerStatusTimings } from "./peer-status.js";
import { icmp6EchoReplyTo, parseIcmp6Echo } from "./probe.js";

export interface LocalClusterSecrets {
  readonly id: string;
  readonly secret: string;
}

/** A fresh cluster ID and secret (base64 of 32 random bytes each, §2.1). */
export function newCluster(): LocalClusterSecrets {
  return { id: randomBytes(32).toString("base64"), secret: randomBytes(32).toString("base64") };
}

export interface LocalNodeOptions {
  readonly cluster: LocalClusterSecrets;
  /** `http://127.0.0.1:PORT` of the discovery service. */
  readonly discovery: string;
  readonly hostname: string;
  readonly stateDir: string;
  /** UDP port on 127.0.0.1 (0 = any free one). */
  readonly port: number;
  /** Endpoints advertised before the real one (e.g. an unreachable first candidate). */
  readonly extraEndpointsFirst?: readonly string[];
  readonly advertisedNetworks?: readonly string[];
  readonly harvestExtraEndpoints?: boolean;
  readonly timings?: Partial<PeerStatusTimings>;
  /** Persistent keepalive override, seconds (with shortened timings). */
  readonly keepaliveSeconds?: number;
  /** OS routing (tests: a recording fake); default none. */
  readonly routing?: MeshRouting | null;
  /**
   * The node's bind instead of a UdpBind on 127.0.0.1 (simulations: a MemoryNetwork bind); its
   * endpoint is then `address:port`.
   */
  readonly bind?: Bind;
  /** Underlay address of the node's endpoint (default 127.0.0.1). */
  readonly address?: string;
  /** Discovery service limits are per source IP: simulations use a shortened backoff too. */
  readonly discoveryBackoff?: { initialMs: number; maxMs: number };
  /** Relay URLs (`kubespan.relays`): the node does NAT traversal and can be reached relayed. */
  readonly relays?: readonly string[];
  /** Wraps the node's UDP bind (tests: lossy or filtering links). */
  readonly wrapBind?: (bind: Bind) => Bind;
  /**
   * Answer ICMPv6 echo requests to the node's KubeSpan address, as the kernel behind a real TUN
   * would (default true). Off, the node has no "OS" at all and probes are answered only by
   * WireGuard's passive keepalive (probe.ts).
   */
  readonly answerPings?: boolean;
  readonly logger?: Logger;
}

export interface LocalNode {
  readonly node: MeshNode;
  readonly tun: MemoryTun;
  readonly config: MeshConfig;
  readonly endpoint: string;
}

/** A UDP port that is free on 127.0.0.1 right now (the Device binds it moments later). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts one in-process node (MemoryTun, 127.0.0.1 UDP, no routing, no UAPI socket). */
export async function startLocalNode(opts: LocalNodeOptions): Promise<LocalNode> {
  const bind = opts.bind ?? new UdpBind({ host: "127.0.0.1", family: 4 });
  const port = opts.port === 0 ? await freeUdpPort() : opts.port;
  const config = loadConfig(
    stringify({
      machine: {
        network: {
          hostname: opts.hostname,
          kubespan: {
            enabled: true,
            interface: "mem0",
            port,
            advertisedNetworks: [...(opts.advertisedNetworks ?? [])],
            harvestExtraEndpoints: opts.harvestExtraEndpoints ?? false,
            ...(opts.relays ? { relays: [...opts.relays] } : {}),
          },
        },
      },
      cluster: {
        id: opts.cluster.id,
        secret: opts.cluster.secret,
        discovery: { enabled: true, registries: { service: { endpoint: opts.discovery } } },
      },
    }),
  );
  const tun = new MemoryTun(opts.hostname, config.kubespan.mtu);
  const endpoint = `${opts.address ?? "127.0.0.1"}:${port}`;
  const node = await MeshNode.start({
    config,
    stateDir: opts.stateDir,
    tun,
    bind: opts.wrapBind ? opts.wrapBind(bind) : bind,
    routing: opts.routing ?? null,
    keepaliveSeconds: opts.keepaliveSeconds,
    endpoints: [...(opts.extraEndpointsFirst ?? []), endpoint],
    addresses: [],
    publishPublicIp: false,
    mac: null,
    uapiDir: false,
    timings: opts.timings,
    logger: opts.logger,
    discoveryBackoff: opts.discoveryBackoff ?? { initialMs: 100, maxMs: 1_000 },
  });
  if (opts.answerPings !== false) answerPings(tun, identityAddressIp(node.identity));
  return { node, tun, config, endpoint };
}

/** Makes `tun` reply to echo requests for `address`, like an IPv6 host (RFC 4443 §4.2). */
function answerPings(tun: MemoryTun, address: string): void {
  const own = parseIp(address);
  tun.onWrite((packets) => {
    const replies: Uint8Array[] = [];
    for (const p of packets) {
      const e = parseIcmp6Echo(p);
      if (e === null || !e.dst.every((b, i) => b === own[i])) continue;
      const reply = icmp6EchoReplyTo(p);
      if (reply !== null) replies.push(reply);
    }
    // Asynchronously, as the kernel would: never re-enter the Device from its own write.
    if (replies.length > 0) setImmediate(() => tun.inject(replies));
  });
}
