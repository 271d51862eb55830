/**
 * What the stack does with ICMP/ICMPv6: answers echo requests to our addresses (RFC 1122
 * §3.2.2.6, RFC 4443 §4.2), hands echo replies to pingers, turns errors into socket errors, and
 * sends rate-limited errors of its own (port unreachable, reassembly time exceeded).
 */
import { type IpAddress, ipKey, isMulticastOrBroadcast } from "./address.js";
import { checksum } from "./checksum.js";
import {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  icmpMessage,
  icmpToSocketError,
  parseQuoted,
  quoteLength,
} from "./icmp.js";
import type { Ipv6Problem } from "./ipv6.js";
import { type IpPacket, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from "./packet.js";
import type { NetStack } from "./stack.js";

export type EchoReplyHandler = (from: IpAddress, sequence: number, data: Uint8Array) => void;

/** Linux `icmp_ratelimit`: one error per second per destination after a burst of 6 (XRLIM_BURST_FACTOR). */
const RATE_INTERVAL_MS = 1000;
const RATE_BURST = 6;
/** Bound on the per-destination rate-limit table (cleared when full: a flood cannot grow it). */
const RATE_TABLE_MAX = 1024;

export class IcmpHandler {
  readonly #stack: NetStack;
  readonly #echo = new Map<number, EchoReplyHandler>();
  readonly #rate = new Map<string, { tokens: number; at: number }>();

  constructor(stack: NetStack) {
    this.#stack = stack;
  }

  /** Registers the receiver of echo replies with this identifier (null removes it). */
  onEchoReply(id: number, handler: EchoReplyHandler | null): void {
    if (handler === null) this.#echo.delete(id);
    else this.#echo.set(id, handler);
  }

  /** True if an echo identifier is taken by a pinger. */
  echoIdInUse(id: number): boolean {
    return this.#echo.has(id);
  }

  /** Sends an echo request to `dst` (ICMP type 8 / ICMPv6 128). */
  echoRequest(dst: IpAddress, id: number, sequence: number, data: Uint8Array): void {
    const v4 = dst.length === 4;
    const msg = icmpMessage(
      v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST,
      0,
      ((id & 0xffff) << 16) | (sequence & 0xffff),
      data,
    );
    this.#stack.sendTransport(
      this.#stack.sourceFor(dst),
      dst,
      v4 ? PROTO_ICMP : PROTO_ICMPV6,
      msg,
      2,
    );
  }

  /** An ICMP message for us (ICMPv6 checksum already verified with its pseudo-header). */
  input(ip: IpPacket, now: number): void {
    const m = ip.payload;
    const stack = this.#stack;
    const v4 = ip.version === 4;
    if (m.length < 8) {
      stack.drop("truncated");
      return;
    }
    if (v4 && checksum(m) !== 0) {
      stack.drop("bad-checksum");
      return;
    }
    const type = m[0];
    if (type === (v4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST)) {
      const reply = m.slice();
      reply[0] = v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY;
      stack.sendTransport(ip.dst.slice(), ip.src.slice(), v4 ? PROTO_ICMP : PROTO_ICMPV6, reply, 2);
      return;
    }
    if (type === (v4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY)) {
      const handler = this.#echo.get((m[4] << 8) | m[5]);
      if (handler === undefined) {
        stack.drop("icmp-ignored");
        return;
      }
      handler(ip.src.slice(), (m[6] << 8) | m[7], m.subarray(8));
      return;
    }
    const rest = ((m[4] << 24) | (m[5] << 16) | (m[6] << 8) | m[7]) >>> 0;
    const err = icmpToSocketError(ip.version, type, m[1], rest);
    if (err === null) {
      stack.drop("icmp-ignored");
      return;
    }
    const q = parseQuoted(ip.version, m.subarray(8));
    if (q === null) {
      stack.drop("bad-icmp");
      return;
    }
    // The quoted packet must be one we sent: from one of our addresses.
    if (!stack.isLocal(q.src)) {
      stack.drop("icmp-unmatched");
      return;
    }
    if (q.protocol === PROTO_TCP && stack.tcp !== null) {
      stack.tcp.icmpError(q.src.slice(), q.dst.slice(), q.transport, err, now);
      return;
    }
    if (q.protocol === PROTO_UDP) {
      const t = q.transport;
      const sock = stack.udp.lookup(q.src, (t[0] << 8) | t[1], q.dst, (t[2] << 8) | t[3]);
      if (sock?.handlers.error) {
        sock.handlers.error(err, q.dst.slice(), (t[2] << 8) | t[3]);
        return;
      }
    }
    stack.drop("icmp-unmatched");
  }

  /**
   * Answers `ip` (a packet that arrived for us) with an ICMP error, except where RFC 1122
   * §3.2.2 / RFC 4443 §2.4(e) forbid it (multicast or unspecified source, non-first fragment).
   */
  sendError(
    version: 4 | 6,
    type: number,
    code: number,
    rest: number,
    ip: IpPacket,
    packet: Uint8Array,
    now: number,
  ): void {
    if (isMulticastOrBroadcast(ip.src) || ip.fragmentOffset !== 0) return;
    this.sendErrorTo(version, ip.src, type, code, rest, packet, now);
  }

  /**
   * RFC 8200 §4 / RFC 4443 §3.4: an IPv6 packet for us refused for its header chain is answered
   * with a Parameter Problem (never to a multicast or unspecified source, rate-limited).
   */
  parameterProblem(packet: Uint8Array, problem: Ipv6Problem, now: number): void {
    const stack = this.#stack;
    const src = packet.subarray(8, 24);
    if (
      !stack.isLocal(packet.subarray(24, 40)) ||
      isMulticastOrBroadcast(src) ||
      stack.isLocal(src)
    )
      return;
    this.sendErrorTo(6, src, 4, problem.code, problem.pointer, packet, now);
  }

  /**
   * A transport we do not speak: ICMP Protocol Unreachable (RFC 1122 §3.2.2.1, code 2) or, on
   * IPv6, Parameter Problem code 1 pointing at the Next Header byte (RFC 8200 §4).
   */
  protocolUnreachable(ip: IpPacket, packet: Uint8Array, now: number): void {
    this.#stack.drop("unknown-protocol");
    if (ip.version === 4) this.sendError(4, 3, 2, 0, ip, packet, now);
    else if (ip.protocolAt >= 0) this.sendError(6, 4, 1, ip.protocolAt, ip, packet, now);
  }

  /** Sends an error quoting `packet` to `dst` (rate-limited per destination, RFC 4443 §2.4(f)). */
  sendErrorTo(
    version: 4 | 6,
    dst: Uint8Array,
    type: number,
    code: number,
    rest: number,
    packet: Uint8Array,
    now: number,
  ): void {
    const stack = this.#stack;
    if (!this.#allow(dst, now)) {
      stack.counters.icmpRateLimited++;
      return;
    }
    const msg = icmpMessage(
      type,
      code,
      rest,
      packet.subarray(0, quoteLength(version, packet.length)),
    );
    stack.counters.icmpErrorsSent++;
    stack.sendTransport(
      stack.sourceFor(dst),
      dst.slice(),
      version === 4 ? PROTO_ICMP : PROTO_ICMPV6,
      msg,
      2,
    );
  }

  /** Token bucket per destination. */
  #allow(dst: Uint8Array, now: number): boolean {
    const key = ipKey(dst);
    let b = this.#rate.get(key);
    if (b === undefined) {
      if (this.#rate.size >= RATE_TABLE_MAX) this.#rate.clear();
      b = { tokens: RATE_BURST, at: now };
      this.#rate.set(key, b);
    }
    const refill = Math.floor((now - b.at) / RATE_INTERVAL_MS);
    if (refill > 0) {
      b.tokens = Math.min(RATE_BURST, b.tokens + refill);
      b.at += refill * RATE_INTERVAL_MS;
    }
    if (b.tokens === 0) return false;
    b.tokens--;
    return true;
  }
}
