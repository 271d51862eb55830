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
import type { PeerStatusTimings } from "./peer-status.js";

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
  /** Wraps the node's UDP bind (tests: lossy or filtering links). */
  readonly wrapBind?: (bind: Bind) => Bind;
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
  const bind = new UdpBind({ host: "127.0.0.1", family: 4 });
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
  const endpoint = `127.0.0.1:${port}`;
  const node = await MeshNode.start({
    config,
    stateDir: opts.stateDir,
    tun,
    bind: opts.wrapBind ? opts.wrapBind(bind) : bind,
    routing: null,
    keepaliveSeconds: opts.keepaliveSeconds,
    endpoints: [...(opts.extraEndpointsFirst ?? []), endpoint],
    addresses: [],
    publishPublicIp: false,
    mac: null,
    uapiDir: false,
    timings: opts.timings,
    logger: opts.logger,
    discoveryBackoff: { initialMs: 100, maxMs: 1_000 },
  });
  return { node, tun, config, endpoint };
}

/** Internet checksum (RFC 1071) over the IPv6 pseudo-header and the ICMPv6 message (RFC 4443 §2.3). */
function icmp6Checksum(src: Uint8Array, dst: Uint8Array, message: Uint8Array): number {
  let sum = 0;
  const add16 = (hi: number, lo: number) => {
    sum += (hi << 8) | lo;
  };
  for (let i = 0; i < 16; i += 2) add16(src[i], src[i + 1]);
  for (let i = 0; i < 16; i += 2) add16(dst[i], dst[i + 1]);
  sum += message.length; // upper-layer length (fits 16 bits here)
  sum += 58; // next header
  for (let i = 0; i < message.length; i += 2) add16(message[i], message[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv6 packet carrying an ICMPv6 echo request (type 128) from `src` to `dst`. */
export function icmp6EchoRequest(
  src: string,
  dst: string,
  id: number,
  seq: number,
  payload: Uint8Array = new Uint8Array(32),
): Uint8Array {
  const s = parseIp(src);
  const d = parseIp(dst);
  if (s.length !== 16 || d.length !== 16) throw new Error("ICMPv6 needs IPv6 addresses");
  const msg = new Uint8Array(8 + payload.length);
  msg[0] = 128;
  msg[4] = id >> 8;
  msg[5] = id & 0xff;
  msg[6] = seq >> 8;
  msg[7] = seq & 0xff;
  msg.set(payload, 8);
  const sum = icmp6Checksum(s, d, msg);
  msg[2] = sum >> 8;
  msg[3] = sum & 0xff;
  const pkt = new Uint8Array(40 + msg.length);
  pkt[0] = 0x60;
  pkt[4] = msg.length >> 8;
  pkt[5] = msg.length & 0xff;
  pkt[6] = 58;
  pkt[7] = 64;
  pkt.set(s, 8);
  pkt.set(d, 24);
  pkt.set(msg, 40);
  return pkt;
}

/** True when `pkt` is an ICMPv6 echo request from `src` to `dst` with this id and sequence. */
export function isIcmp6Echo(pkt: Uint8Array, src: string, dst: string, id: number, seq: number) {
  if (pkt.length < 48 || pkt[0] >> 4 !== 6 || pkt[6] !== 58 || pkt[40] !== 128) return false;
  const eq = (a: Uint8Array, off: number) => a.every((b, i) => pkt[off + i] === b);
  return (
    eq(parseIp(src), 8) &&
    eq(parseIp(dst), 24) &&
    ((pkt[44] << 8) | pkt[45]) === id &&
    ((pkt[46] << 8) | pkt[47]) === seq
  );
}
