/**
 * The relay's wire protocol: one WebSocket (RFC 6455) binary message per frame, first byte the
 * frame type. Modelled on Tailscale's DERP (reference/nat-relay.md §4.1): WireGuard datagrams
 * are forwarded by the destination's public key and stay WireGuard ciphertext end to end.
 *
 * Admission (never an open relay):
 * 1. Server → ServerHello: version, a fresh X25519 key for this connection, 32 random bytes.
 * 2. Client → ClientHello: its WireGuard public key, its cluster ID, and two MACs over the
 *    transcript (server key ‖ challenge ‖ client key ‖ cluster ID):
 *    - keyMac, keyed with X25519(client private, server ephemeral): only the holder of the
 *      private key can compute it; the server computes the same with X25519(ephemeral, client
 *      public). The ephemeral key and challenge make every proof single-use.
 *    - clusterMac, keyed with the cluster's relay token ({@link relayToken}), which the relay is
 *      configured with: proves membership without giving the relay the cluster secret (the
 *      token is a one-way derivation; the relay cannot decrypt affiliates or forge handshakes).
 * 3. Server → Welcome (then Send/Recv frames flow) or Refused (reason) and close.
 *
 * Send and Recv frames carry a batch: every datagram a node sends one peer in one event-loop
 * turn travels in one WebSocket message (the relay swaps the key and forwards the message as a
 * whole), so the per-message costs of WebSocket framing, the relay's parsing and its socket
 * writes are paid once per batch instead of once per datagram (bench/RESULTS.md, issue #12).
 *
 * Every decoder returns null on malformed input (network input: never throws; fuzzed).
 */
import { nodeCrypto } from "@wirespan/noise/crypto/node";

/** 2: Send/Recv frames carry batches (1 carried one datagram each). */
export const RelayProtocolVersion = 2;
/** HTTP path the relay answers WebSocket upgrades on. */
export const RelayPath = "/wirespan/relay";
/** Largest relayed datagram: a WireGuard message of a 64 KiB MTU link (far above 1420 + 32). */
export const MaxRelayedPacket = 65_535;
/** Bytes before the first datagram of a Send/Recv frame: type, key. */
export const BatchHeaderLength = 1 + 32;
/** Largest Send/Recv frame: one datagram of MaxRelayedPacket bytes, or a batch of that size. */
export const MaxBatchFrame = BatchHeaderLength + 2 + MaxRelayedPacket;

export const FrameType = {
  ServerHello: 0x01,
  ClientHello: 0x02,
  Welcome: 0x03,
  Refused: 0x04,
  /** Client → server: 32 B destination key ‖ (u16 length ‖ datagram)+. */
  Send: 0x10,
  /** Server → client: 32 B source key ‖ (u16 length ‖ datagram)+ (a Send with the key swapped). */
  Recv: 0x11,
  /** Server → client: 32 B key of a destination that is not connected here. */
  PeerGone: 0x12,
} as const;

const KeyLength = 32;
const ChallengeLength = 32;
const MacLength = 32;
const MaxClusterIdLength = 256;
const TokenLabel = new TextEncoder().encode("wirespan relay token v1");
const KeyMacLabel = new TextEncoder().encode("wirespan relay key proof v1");
const ClusterMacLabel = new TextEncoder().encode("wirespan relay cluster proof v1");

export type RelayFrame =
  | {
      readonly type: typeof FrameType.ServerHello;
      readonly version: number;
      readonly serverKey: Uint8Array;
      readonly challenge: Uint8Array;
    }
  | {
      readonly type: typeof FrameType.ClientHello;
      readonly clientKey: Uint8Array;
      readonly clusterId: string;
      readonly keyMac: Uint8Array;
      readonly clusterMac: Uint8Array;
    }
  | { readonly type: typeof FrameType.Welcome; readonly rateBytesPerSecond: number }
  | { readonly type: typeof FrameType.Refused; readonly reason: string }
  | {
      readonly type: typeof FrameType.Send | typeof FrameType.Recv;
      readonly key: Uint8Array;
      /** One or more datagrams, each 1 … MaxRelayedPacket bytes. */
      readonly packets: readonly Uint8Array[];
    }
  | { readonly type: typeof FrameType.PeerGone; readonly key: Uint8Array };

/**
 * The relay token of a cluster: HMAC-BLAKE2s(cluster secret bytes, label), base64url. Given to
 * the relay operator (`wirespan relay token`), it admits that cluster's nodes.
 */
export function relayToken(clusterSecret: Uint8Array): Uint8Array {
  return nodeCrypto.hmac(clusterSecret, TokenLabel);
}

/** `<base64url cluster ID>.<base64url token>`: one string naming a cluster and its token. */
export function formatClusterToken(clusterId: string, token: Uint8Array): string {
  return `${Buffer.from(clusterId).toString("base64url")}.${Buffer.from(token).toString("base64url")}`;
}

/** Parses {@link formatClusterToken}'s form; throws an Error naming the problem (user input). */
export function parseClusterToken(text: string): { clusterId: string; token: Uint8Array } {
  const dot = text.indexOf(".");
  const id = dot > 0 ? Buffer.from(text.slice(0, dot), "base64url").toString() : "";
  const token = dot > 0 ? Buffer.from(text.slice(dot + 1), "base64url") : Buffer.alloc(0);
  if (id.length === 0 || token.length !== MacLength) {
    throw new Error("cluster token must be <base64url cluster ID>.<base64url 32-byte token>");
  }
  return { clusterId: id, token: new Uint8Array(token) };
}

/** A comma-separated list of cluster tokens → cluster ID → token; throws like parseClusterToken. */
export function parseClusterTokens(list: string): Map<string, Uint8Array> {
  const clusters = new Map<string, Uint8Array>();
  for (const t of list.split(",")) {
    const { clusterId, token } = parseClusterToken(t.trim());
    clusters.set(clusterId, token);
  }
  return clusters;
}

function transcript(
  serverKey: Uint8Array,
  challenge: Uint8Array,
  clientKey: Uint8Array,
  clusterId: string,
): Uint8Array[] {
  return [serverKey, challenge, clientKey, new TextEncoder().encode(clusterId)];
}

/** The client's two proofs (module comment, step 2); null when the server key is low-order. */
export function clientProofs(
  privateKey: Uint8Array,
  publicKey: Uint8Array,
  token: Uint8Array,
  clusterId: string,
  hello: { serverKey: Uint8Array; challenge: Uint8Array },
): { keyMac: Uint8Array; clusterMac: Uint8Array } | null {
  const shared = nodeCrypto.x25519(privateKey, hello.serverKey);
  if (shared === null) return null;
  const t = transcript(hello.serverKey, hello.challenge, publicKey, clusterId);
  return {
    keyMac: nodeCrypto.hmac(shared, KeyMacLabel, ...t),
    clusterMac: nodeCrypto.hmac(token, ClusterMacLabel, ...t),
  };
}

/** Server side: which check a ClientHello fails, or null when both proofs hold. */
export function verifyClientHello(
  ephemeralPrivate: Uint8Array,
  hello: { serverKey: Uint8Array; challenge: Uint8Array },
  frame: { clientKey: Uint8Array; clusterId: string; keyMac: Uint8Array; clusterMac: Uint8Array },
  tokenOf: (clusterId: string) => Uint8Array | undefined,
): "cluster" | "key" | null {
  const token = tokenOf(frame.clusterId);
  const t = transcript(hello.serverKey, hello.challenge, frame.clientKey, frame.clusterId);
  if (
    token === undefined ||
    !equal(nodeCrypto.hmac(token, ClusterMacLabel, ...t), frame.clusterMac)
  )
    return "cluster";
  const shared = nodeCrypto.x25519(ephemeralPrivate, frame.clientKey);
  if (shared === null || !equal(nodeCrypto.hmac(shared, KeyMacLabel, ...t), frame.keyMac)) {
    return "key";
  }
  return null;
}

/** Constant-time comparison of two MACs. */
function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function encodeFrame(frame: RelayFrame): Uint8Array {
  switch (frame.type) {
    case FrameType.ServerHello: {
      const out = new Uint8Array(2 + KeyLength + ChallengeLength);
      out[0] = frame.type;
      out[1] = frame.version;
      out.set(frame.serverKey, 2);
      out.set(frame.challenge, 2 + KeyLength);
      return out;
    }
    case FrameType.ClientHello: {
      const id = new TextEncoder().encode(frame.clusterId);
      if (id.length > MaxClusterIdLength) throw new RangeError("cluster ID longer than 256 bytes");
      const out = new Uint8Array(1 + KeyLength + 2 + id.length + 2 * MacLength);
      out[0] = frame.type;
      out.set(frame.clientKey, 1);
      out[33] = id.length >> 8;
      out[34] = id.length & 0xff;
      out.set(id, 35);
      out.set(frame.keyMac, 35 + id.length);
      out.set(frame.clusterMac, 35 + id.length + MacLength);
      return out;
    }
    case FrameType.Welcome: {
      const out = new Uint8Array(5);
      out[0] = frame.type;
      new DataView(out.buffer).setUint32(1, frame.rateBytesPerSecond);
      return out;
    }
    case FrameType.Refused: {
      const reason = new TextEncoder().encode(frame.reason.slice(0, 200));
      const out = new Uint8Array(1 + reason.length);
      out[0] = frame.type;
      out.set(reason, 1);
      return out;
    }
    case FrameType.Send:
    case FrameType.Recv: {
      let length = BatchHeaderLength;
      for (const p of frame.packets) length += 2 + p.length;
      if (frame.packets.length === 0 || length > MaxBatchFrame) {
        throw new RangeError("a Send/Recv frame holds 1 … 65,535 bytes of datagrams");
      }
      const out = new Uint8Array(length);
      out[0] = frame.type;
      out.set(frame.key, 1);
      let at = BatchHeaderLength;
      for (const p of frame.packets) {
        if (p.length === 0) throw new RangeError("empty datagram");
        out[at] = p.length >> 8;
        out[at + 1] = p.length & 0xff;
        out.set(p, at + 2);
        at += 2 + p.length;
      }
      return out;
    }
    case FrameType.PeerGone: {
      const out = new Uint8Array(1 + KeyLength);
      out[0] = frame.type;
      out.set(frame.key, 1);
      return out;
    }
  }
}

/**
 * The datagrams of a Send/Recv frame's body (`data` from BatchHeaderLength on), as views into
 * `data`; null unless the body is one or more well-formed (u16 length ≥ 1 ‖ datagram) records
 * that fill it exactly.
 */
export function batchPackets(data: Uint8Array): Uint8Array[] | null {
  if (data.length <= BatchHeaderLength || data.length > MaxBatchFrame) return null;
  const packets: Uint8Array[] = [];
  let at = BatchHeaderLength;
  while (at < data.length) {
    if (at + 2 > data.length) return null;
    const length = (data[at] << 8) | data[at + 1];
    at += 2;
    if (length === 0 || at + length > data.length) return null;
    packets.push(data.subarray(at, at + length));
    at += length;
  }
  return packets;
}

/** Parses one frame; null when malformed. Packet and key views share `data`'s memory. */
export function decodeFrame(data: Uint8Array): RelayFrame | null {
  if (data.length === 0) return null;
  switch (data[0]) {
    case FrameType.ServerHello:
      if (data.length !== 2 + KeyLength + ChallengeLength) return null;
      return {
        type: FrameType.ServerHello,
        version: data[1],
        serverKey: data.subarray(2, 2 + KeyLength),
        challenge: data.subarray(2 + KeyLength),
      };
    case FrameType.ClientHello: {
      if (data.length < 35) return null;
      const idLen = (data[33] << 8) | data[34];
      if (idLen === 0 || idLen > MaxClusterIdLength) return null;
      if (data.length !== 35 + idLen + 2 * MacLength) return null;
      let clusterId: string;
      try {
        clusterId = new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(35, 35 + idLen));
      } catch {
        return null;
      }
      return {
        type: FrameType.ClientHello,
        clientKey: data.subarray(1, 33),
        clusterId,
        keyMac: data.subarray(35 + idLen, 35 + idLen + MacLength),
        clusterMac: data.subarray(35 + idLen + MacLength),
      };
    }
    case FrameType.Welcome:
      if (data.length !== 5) return null;
      return {
        type: FrameType.Welcome,
        rateBytesPerSecond: new DataView(data.buffer, data.byteOffset, 5).getUint32(1),
      };
    case FrameType.Refused:
      return {
        type: FrameType.Refused,
        reason: new TextDecoder().decode(data.subarray(1, 201)),
      };
    case FrameType.Send:
    case FrameType.Recv: {
      const packets = batchPackets(data);
      if (packets === null) return null;
      return { type: data[0], key: data.subarray(1, 1 + KeyLength), packets };
    }
    case FrameType.PeerGone:
      if (data.length !== 1 + KeyLength) return null;
      return { type: FrameType.PeerGone, key: data.subarray(1) };
    default:
      return null;
  }
}
