/**
 * Path probes: wirespan's small version of Tailscale's disco ping/pong (reference/nat-relay.md
 * §3.4), sent on the WireGuard socket to a peer's candidate endpoints. A pong proves the path
 * works both ways, so a node switches to a direct path only once it is known good, and the pings
 * both sides send at once open both NATs (simultaneous open, §3.1). Talos peers never see them.
 *
 * Wire format (first byte 0xF0 is neither WireGuard, whose type byte is 1–4, nor STUN, whose top
 * two bits are zero — §2.3):
 *   "\xF0WSP" ‖ type (1 ping, 2 pong) ‖ sender public key (32) ‖ transaction ID (12)
 *   ‖ pong only: the ping's source as seen by the responder (family 4|6, port u16, 16 B address)
 *   ‖ MAC (16) = keyed BLAKE2s over everything before it, with
 *     key = HASH(label ‖ X25519(own private, peer public)) — both ends derive the same key, and
 *     only they can (static-static DH, as in Noise). A forged pong cannot steer traffic.
 */
import { formatIp, parseIp } from "@wirespan/noise";
import { nodeCrypto } from "@wirespan/noise/crypto/node";

export const ProbeMagic = Uint8Array.of(0xf0, 0x57, 0x53, 0x50);
export const ProbePing = 1;
export const ProbePong = 2;
const HeaderLength = 4 + 1 + 32 + 12;
const AddressLength = 19;
const MacLength = 16;
export const PingLength = HeaderLength + MacLength;
export const PongLength = HeaderLength + AddressLength + MacLength;
const Label = new TextEncoder().encode("wirespan path probe v1");

export interface ProbeAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export interface ProbeMessage {
  readonly type: typeof ProbePing | typeof ProbePong;
  readonly sender: Uint8Array;
  readonly txid: Uint8Array;
  /** Pong: where the responder saw the ping come from. */
  readonly observed: ProbeAddress | null;
  /** Bytes the MAC covers and the MAC (checked by {@link verifyProbe}). */
  readonly covered: Uint8Array;
  readonly mac: Uint8Array;
}

/** True when the datagram starts with the probe magic (cheap demultiplexing test). */
export function isProbe(data: Uint8Array): boolean {
  return (
    data.length >= 4 && data[0] === 0xf0 && data[1] === 0x57 && data[2] === 0x53 && data[3] === 0x50
  );
}

/** The MAC key two nodes share; null for a low-order peer key. */
export function probeKey(privateKey: Uint8Array, peerPublic: Uint8Array): Uint8Array | null {
  const shared = nodeCrypto.x25519(privateKey, peerPublic);
  return shared === null ? null : nodeCrypto.hash(Label, shared);
}

export function encodeProbe(
  type: typeof ProbePing | typeof ProbePong,
  sender: Uint8Array,
  txid: Uint8Array,
  key: Uint8Array,
  observed: ProbeAddress | null = null,
): Uint8Array {
  const len = type === ProbePing ? PingLength : PongLength;
  const out = new Uint8Array(len);
  out.set(ProbeMagic, 0);
  out[4] = type;
  out.set(sender, 5);
  out.set(txid, 37);
  if (type === ProbePong) {
    if (observed === null) throw new Error("a pong carries the observed address");
    const ip = parseIp(observed.address);
    out[HeaderLength] = ip.length === 4 ? 4 : 6;
    out[HeaderLength + 1] = observed.port >> 8;
    out[HeaderLength + 2] = observed.port & 0xff;
    out.set(ip, HeaderLength + 3);
  }
  out.set(nodeCrypto.mac(key, out.subarray(0, len - MacLength)), len - MacLength);
  return out;
}

/** Parses a probe; null when malformed (network input: never throws). The MAC is not checked. */
export function decodeProbe(data: Uint8Array): ProbeMessage | null {
  if (!isProbe(data)) return null;
  const type = data[4];
  if (
    !(type === ProbePing && data.length === PingLength) &&
    !(type === ProbePong && data.length === PongLength)
  ) {
    return null;
  }
  let observed: ProbeAddress | null = null;
  if (type === ProbePong) {
    const fam = data[HeaderLength];
    if (fam !== 4 && fam !== 6) return null;
    const port = (data[HeaderLength + 1] << 8) | data[HeaderLength + 2];
    const ip = data.subarray(HeaderLength + 3, HeaderLength + 3 + (fam === 4 ? 4 : 16));
    observed = { address: formatIp(new Uint8Array(ip)), port, family: fam };
  }
  return {
    type,
    sender: data.subarray(5, 37),
    txid: data.subarray(37, 49),
    observed,
    covered: data.subarray(0, data.length - MacLength),
    mac: data.subarray(data.length - MacLength),
  };
}

/** True when the probe's MAC is right for `key`. */
export function verifyProbe(m: ProbeMessage, key: Uint8Array): boolean {
  const want = nodeCrypto.mac(key, m.covered);
  let d = 0;
  for (let i = 0; i < MacLength; i++) d |= want[i] ^ m.mac[i];
  return d === 0;
}
