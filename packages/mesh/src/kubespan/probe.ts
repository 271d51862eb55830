/**
 * The liveness probe (wirespan extension to reference/kubespan.md §4.4): an ICMPv6 echo request
 * from the local KubeSpan address to a peer's, sent *through the tunnel* (Device.sendToTunnel),
 * never through the OS. It is a data packet, so a live peer always answers it with something
 * authenticated:
 *
 * - its OS replies to the echo (a real TUN);
 * - without an OS that answers (an in-memory TUN), WireGuard's passive keepalive answers any
 *   received data within KEEPALIVE_TIMEOUT = 10 s (whitepaper §6.5);
 * - if the peer lost the session (restarted), the data is undecryptable there and our Engine
 *   starts a new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT = 15 s of data sent without
 *   a reply (whitepaper §6.2), which the live peer answers.
 *
 * The echo reply that comes back is delivered to our own TUN, where the OS drops it (no socket
 * waits for this identifier) and an in-memory TUN ignores it. Peer-status.ts decides when to
 * probe and when an unanswered probe means `down`.
 *
 * Packet layout: IPv6 header (RFC 8200 §3), ICMPv6 echo (RFC 4443 §4.1), checksum over the
 * IPv6 pseudo-header (RFC 8200 §8.1, RFC 4443 §2.3) computed as RFC 1071.
 */
import { parseIp } from "@wirespan/noise";

/** ICMPv6 types (RFC 4443 §4.1, §4.2). */
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
/** IPv6 next-header value of ICMPv6 (IANA protocol numbers). */
export const IPPROTO_ICMPV6 = 58;

/** Echo identifier of wirespan's probes ("ws"): tells them apart from a user's pings. */
export const ProbeEchoId = 0x7773;
/** Payload of a probe: recognisable in a capture, short (one 16-byte padding block). */
export const ProbePayload = new TextEncoder().encode("wirespan probe");

const IPV6_HEADER = 40;
const HOP_LIMIT = 64;

/** Internet checksum (RFC 1071) over the IPv6 pseudo-header and an ICMPv6 message. */
export function icmp6Checksum(src: Uint8Array, dst: Uint8Array, message: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 16; i += 2) sum += (src[i] << 8) | src[i + 1];
  for (let i = 0; i < 16; i += 2) sum += (dst[i] << 8) | dst[i + 1];
  // Upper-layer packet length (32 bits) and next header (zero-padded to 32 bits).
  sum += (message.length >>> 16) + (message.length & 0xffff);
  sum += IPPROTO_ICMPV6;
  for (let i = 0; i < message.length; i += 2) sum += (message[i] << 8) | (message[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv6 packet carrying an ICMPv6 echo message of `type` from `src` to `dst` (16 bytes each). */
function icmp6Echo(
  type: number,
  s: Uint8Array,
  d: Uint8Array,
  id: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array {
  const msg = new Uint8Array(8 + payload.length);
  msg[0] = type;
  msg[4] = (id >> 8) & 0xff;
  msg[5] = id & 0xff;
  msg[6] = (seq >> 8) & 0xff;
  msg[7] = seq & 0xff;
  msg.set(payload, 8);
  const sum = icmp6Checksum(s, d, msg);
  msg[2] = sum >> 8;
  msg[3] = sum & 0xff;
  const pkt = new Uint8Array(IPV6_HEADER + msg.length);
  pkt[0] = 0x60; // version 6, traffic class 0, flow label 0
  pkt[4] = msg.length >> 8;
  pkt[5] = msg.length & 0xff;
  pkt[6] = IPPROTO_ICMPV6;
  pkt[7] = HOP_LIMIT;
  pkt.set(s, 8);
  pkt.set(d, 24);
  pkt.set(msg, IPV6_HEADER);
  return pkt;
}

function ipv6Bytes(ip: string): Uint8Array {
  const b = parseIp(ip);
  if (b.length !== 16) throw new Error(`ICMPv6 needs IPv6 addresses, got ${ip}`);
  return b;
}

/** An IPv6 packet carrying an ICMPv6 echo request from `src` to `dst`. */
export function icmp6EchoRequest(
  src: string,
  dst: string,
  id: number,
  seq: number,
  payload: Uint8Array = new Uint8Array(32),
): Uint8Array {
  return icmp6Echo(ICMPV6_ECHO_REQUEST, ipv6Bytes(src), ipv6Bytes(dst), id, seq, payload);
}

/** The probe packet for one peer: echo request with {@link ProbeEchoId} and sequence `seq`. */
export function probePacket(localAddress: string, peerAddress: string, seq: number): Uint8Array {
  return icmp6EchoRequest(localAddress, peerAddress, ProbeEchoId, seq & 0xffff, ProbePayload);
}

/** Parsed ICMPv6 echo message of an IPv6 packet (no extension headers), or null. */
export interface Icmp6Echo {
  readonly type: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly id: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/** Reads an ICMPv6 echo request/reply with a valid checksum; null for anything else. */
export function parseIcmp6Echo(pkt: Uint8Array): Icmp6Echo | null {
  if (pkt.length < IPV6_HEADER + 8 || pkt[0] >> 4 !== 6 || pkt[6] !== IPPROTO_ICMPV6) return null;
  const len = (pkt[4] << 8) | pkt[5];
  if (len < 8 || IPV6_HEADER + len > pkt.length) return null;
  const msg = pkt.subarray(IPV6_HEADER, IPV6_HEADER + len);
  if (msg[0] !== ICMPV6_ECHO_REQUEST && msg[0] !== ICMPV6_ECHO_REPLY) return null;
  const src = pkt.subarray(8, 24);
  const dst = pkt.subarray(24, 40);
  // A correct checksum sums (with itself included) to 0xffff, i.e. its complement is 0.
  if (icmp6Checksum(src, dst, msg) !== 0) return null;
  return {
    type: msg[0],
    src,
    dst,
    id: (msg[4] << 8) | msg[5],
    seq: (msg[6] << 8) | msg[7],
    payload: msg.subarray(8),
  };
}

/** The reply an IPv6 host sends to an echo request (RFC 4443 §4.2), or null if `pkt` is none. */
export function icmp6EchoReplyTo(pkt: Uint8Array): Uint8Array | null {
  const e = parseIcmp6Echo(pkt);
  if (e === null || e.type !== ICMPV6_ECHO_REQUEST) return null;
  return icmp6Echo(ICMPV6_ECHO_REPLY, e.dst, e.src, e.id, e.seq, e.payload);
}

/** True when `pkt` is an ICMPv6 echo request from `src` to `dst` with this id and sequence. */
export function isIcmp6Echo(
  pkt: Uint8Array,
  src: string,
  dst: string,
  id: number,
  seq: number,
): boolean {
  const e = parseIcmp6Echo(pkt);
  if (e === null || e.type !== ICMPV6_ECHO_REQUEST || e.id !== id || e.seq !== seq) return false;
  const eq = (a: Uint8Array, b: Uint8Array) => a.every((x, i) => x === b[i]);
  return eq(e.src, parseIp(src)) && eq(e.dst, parseIp(dst));
}
