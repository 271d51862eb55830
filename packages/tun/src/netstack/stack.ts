/**
 * NetStack: a sans-IO TCP/IP host. IP packets and the time go in (`input`, `tick`); IP packets
 * come out (`takeOutput`); `nextDeadline` says when to call `tick` next. No clock, no timers, no
 * `node:` imports, so it runs wherever JavaScript does (DESIGN.md; smoltcp's `poll` idea).
 *
 * Receive path: version → header checks and IPv4 header checksum → destination is ours →
 * reassembly → transport checksum (pseudo-header) → TCP / UDP / ICMP. Anything else is dropped
 * and counted under a DropReason; nothing the network sends throws.
 */
import { formatIp, type IpAddress, ipKey, isMulticastOrBroadcast, parseIp } from "./address.js";
import { addSums, finish, pseudoHeaderSum, sum } from "./checksum.js";
import { type DropReason, type NetStackCounters, newDropCounters } from "./counters.js";
import { NetstackError } from "./errors.js";
import { Reassembler } from "./fragments.js";
import { IcmpHandler } from "./icmp-handler.js";
import { IPV4_HEADER, parseIpv4, writeIpv4Header } from "./ipv4.js";
import {
  IPV6_HEADER,
  type Ipv6Problem,
  parseIpv6,
  walkIpv6Extensions,
  writeIpv6Header,
} from "./ipv6.js";
import { type IpPacket, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from "./packet.js";
import { TcpLayer, type TcpLayerOptions } from "./tcp/index.js";
import { splitTcpSegment, TCP_HEADROOM, tcpPacket } from "./tcp-output.js";
import { UDP_HEADER, type UdpHost, type UdpSocket, UdpTable } from "./udp.js";

export interface NetStackOptions {
  /** Our addresses (IPv4 and/or IPv6), e.g. wg-quick's `Address =` without prefix lengths. */
  addresses: Array<string | IpAddress>;
  /** Link MTU (default 1420, wg-quick's). */
  mtu?: number;
  /** Random numbers in [0, 1) for ports and IDs (default: Web Crypto). */
  random?: () => number;
  /**
   * TCP tuning passed to the TCP layer (buffers, congestion control, TIME-WAIT, backlog,
   * `maxEmitSegment` for segmentation offload); `false` leaves TCP out ("no-tcp" drops).
   */
  tcp?: TcpTuning | false;
}

export const DEFAULT_NETSTACK_MTU = 1420;

export type TcpTuning = Omit<TcpLayerOptions, "output" | "random" | "mtu" | "headroom">;

/** Cryptographically random bytes via Web Crypto (Node ≥ 19, Bun, Deno, browsers). */
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

function randomUnit(): number {
  const b = new Uint32Array(1);
  globalThis.crypto.getRandomValues(b);
  return b[0] / 0x1_0000_0000;
}

export class NetStack {
  readonly mtu: number;
  readonly addresses: readonly IpAddress[];
  readonly counters: NetStackCounters;
  readonly udp: UdpTable;
  readonly tcp: TcpLayer | null;
  readonly icmp: IcmpHandler;
  readonly random: () => number;
  /** Called when output goes from empty to pending (the adapter schedules a flush). */
  onOutput: (() => void) | null = null;
  #out: Uint8Array[] = [];
  readonly #addrKeys = new Set<string>();
  readonly #frag4 = new Reassembler({ timeoutMs: 30_000 });
  readonly #frag6 = new Reassembler({ timeoutMs: 60_000 });
  #ipId: number;
  readonly #udpHost: UdpHost;
  readonly #problem: Ipv6Problem = { code: 0, pointer: -1 };

  constructor(opts: NetStackOptions) {
    this.mtu = opts.mtu ?? DEFAULT_NETSTACK_MTU;
    if (!Number.isInteger(this.mtu) || this.mtu < 576 || this.mtu > 65535) {
      throw new NetstackError("EINVAL", `MTU ${this.mtu} out of range 576..65535`);
    }
    this.addresses = opts.addresses.map((a) => {
      const ip = typeof a === "string" ? parseIp(a) : a.slice();
      if (ip === null || (ip.length !== 4 && ip.length !== 16))
        throw new NetstackError("EINVAL", `bad address ${String(a)}`);
      return ip;
    });
    if (this.addresses.length === 0)
      throw new NetstackError("EINVAL", "a netstack needs at least one address");
    for (const a of this.addresses) this.#addrKeys.add(ipKey(a));
    this.random = opts.random ?? randomUnit;
    this.#ipId = Math.floor(this.random() * 0x10000);
    this.counters = {
      packetsIn: 0,
      packetsOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      reassembled: 0,
      icmpErrorsSent: 0,
      icmpRateLimited: 0,
      dropped: newDropCounters(),
    };
    this.udp = new UdpTable(this.random);
    this.icmp = new IcmpHandler(this);
    this.#udpHost = {
      sendUdp: (sock, dst, port, data) => this.#sendUdp(sock, dst, port, data),
      unbind: (sock) => this.udp.remove(sock),
    };
    this.tcp =
      opts.tcp === false
        ? null
        : new TcpLayer({
            ...opts.tcp,
            output: (src, dst, segment, mss) => this.#outputTcp(src, dst, segment, mss),
            random: randomBytes,
            mtu: { v4: this.mtu, v6: this.mtu },
            headroom: TCP_HEADROOM,
          });
  }

  /** True if `a` is one of our addresses. */
  isLocal(a: IpAddress): boolean {
    return this.#addrKeys.has(ipKey(a));
  }

  /** Our first address of the destination's family (the source we use toward it). */
  sourceFor(dst: IpAddress): IpAddress {
    for (const a of this.addresses) if (a.length === dst.length) return a;
    throw new NetstackError(
      "ENETUNREACH",
      `no local IPv${dst.length === 4 ? 4 : 6} address to reach ${formatIp(dst)}`,
    );
  }

  /** Opens a UDP socket (port 0: ephemeral). `address` null = any local address of the family. */
  udpBind(family: 4 | 6, port = 0, address: IpAddress | null = null): UdpSocket {
    if (
      address !== null &&
      (!this.isLocal(address) || address.length !== (family === 4 ? 4 : 16))
    ) {
      throw new NetstackError(
        "EADDRNOTAVAIL",
        `${formatIp(address)} is not a local IPv${family} address`,
      );
    }
    return this.udp.bind(this.#udpHost, family, address, port);
  }

  /** Bytes held by IPv4 + IPv6 fragment reassembly (bounded by ~2 × 4 MiB). */
  get reassemblyBytes(): number {
    return this.#frag4.bytes + this.#frag6.bytes;
  }

  /** Takes every packet produced since the last call. */
  takeOutput(): Uint8Array[] {
    const out = this.#out;
    if (out.length !== 0) this.#out = [];
    return out;
  }

  /** Earliest time `tick` has work (fragment timeouts, TCP timers), or null. */
  nextDeadline(): number | null {
    let d: number | null = null;
    for (const x of [
      this.#frag4.nextDeadline(),
      this.#frag6.nextDeadline(),
      this.tcp?.nextDeadline() ?? null,
    ]) {
      if (x !== null && (d === null || x < d)) d = x;
    }
    return d;
  }

  #outputTcp(src: IpAddress, dst: IpAddress, segment: Uint8Array, mss: number): void {
    for (const seg of splitTcpSegment(segment, mss)) {
      this.#emit(tcpPacket(src, dst, seg, this.#ipId));
      this.#ipId = (this.#ipId + 1) & 0xffff;
    }
  }

  tick(now: number): void {
    this.#frag4.expire(now, (quote) => this.#fragmentTimedOut(4, quote, now));
    this.#frag6.expire(now, (quote) => this.#fragmentTimedOut(6, quote, now));
    this.tcp?.tick(now);
  }

  /**
   * Brackets the `input` calls of one link read (a WireGuard receive batch): TCP then sends one
   * ACK per connection for the batch instead of one per two segments (TcpLayer.beginBatch).
   */
  beginBatch(now: number): void {
    this.tcp?.beginBatch(now);
  }

  endBatch(now: number): void {
    this.tcp?.endBatch(now);
  }

  /** One IP packet from the link (the Device's decrypted inbound traffic). Never throws for bad input. */
  input(packet: Uint8Array, now: number): void {
    this.counters.packetsIn++;
    this.counters.bytesIn += packet.length;
    const version = packet.length > 0 ? packet[0] >> 4 : 0;
    const problem = this.#problem;
    problem.pointer = -1;
    const ip =
      version === 4
        ? parseIpv4(packet)
        : version === 6
          ? parseIpv6(packet, problem)
          : "bad-version";
    if (typeof ip === "string") {
      this.drop(ip);
      if (problem.pointer >= 0) this.icmp.parameterProblem(packet, problem, now);
      return;
    }
    if (!this.isLocal(ip.dst)) {
      this.drop("not-for-us");
      return;
    }
    if (isMulticastOrBroadcast(ip.src) || this.isLocal(ip.src)) {
      this.drop("bad-source");
      return;
    }
    if (!ip.fragmented) {
      this.#deliver(ip, packet, now);
      return;
    }
    this.#reassemble(ip, packet, now);
  }

  drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
  }

  #reassemble(ip: IpPacket, packet: Uint8Array, now: number): void {
    const v4 = ip.version === 4;
    const frag = v4 ? this.#frag4 : this.#frag6;
    const key = `${ip.version}${ipKey(ip.src)}${ipKey(ip.dst)}${ip.protocol}:${ip.fragmentId}`;
    const quote =
      ip.fragmentOffset === 0
        ? packet.subarray(0, Math.min(packet.length, ip.headerLength + 8))
        : null;
    const r = frag.add(key, ip.fragmentOffset, ip.moreFragments, ip.payload, now, quote);
    const evicted = frag.takeEvicted();
    if (evicted > 0) this.counters.dropped["fragment-evicted"] += evicted;
    if (r === null) return;
    if (typeof r === "string") {
      this.drop(r);
      return;
    }
    this.counters.reassembled++;
    let protocol = ip.protocol;
    let protocolAt = ip.protocolAt;
    let payload = r;
    if (!v4) {
      // RFC 8200 §4.5: headers after the Fragment header are part of the fragmentable data.
      const chain = walkIpv6Extensions(r, 0, ip.protocol, r.length, false);
      if (typeof chain === "string") {
        this.drop(chain);
        return;
      }
      if (chain.fragment !== null) {
        this.drop("bad-extension-header");
        return;
      }
      protocol = chain.protocol;
      // The Next Header byte as an offset into the first fragment (what the error quotes).
      protocolAt = chain.protocolAt < 0 ? ip.protocolAt : ip.headerLength + chain.protocolAt;
      payload = r.subarray(chain.offset);
    }
    // Quotes of reassembled datagrams use the first fragment's header (the ICMP error body).
    this.#deliver(
      { ...ip, protocol, protocolAt, payload, fragmented: false },
      quote ?? packet,
      now,
    );
  }

  #deliver(ip: IpPacket, packet: Uint8Array, now: number): void {
    switch (ip.protocol) {
      case PROTO_TCP:
        if (!this.#transportChecksumOk(ip, PROTO_TCP, 20)) return;
        if (this.tcp === null) {
          this.drop("no-tcp");
          return;
        }
        this.tcp.input(ip.src.slice(), ip.dst.slice(), ip.payload, now);
        return;
      case PROTO_UDP: {
        this.#udpInput(ip, packet, now);
        return;
      }
      case PROTO_ICMP:
        if (ip.version !== 4) {
          this.icmp.protocolUnreachable(ip, packet, now);
          return;
        }
        {
          this.icmp.input(ip, now);
          return;
        }
      case PROTO_ICMPV6:
        if (ip.version !== 6) {
          this.icmp.protocolUnreachable(ip, packet, now);
          return;
        }
        if (!this.#transportChecksumOk(ip, PROTO_ICMPV6, 8)) return;
        {
          this.icmp.input(ip, now);
          return;
        }
      default: {
        this.icmp.protocolUnreachable(ip, packet, now);
        return;
      }
    }
  }

  /** Verifies the pseudo-header checksum of a transport payload at least `minLength` long. */
  #transportChecksumOk(ip: IpPacket, protocol: number, minLength: number): boolean {
    const p = ip.payload;
    if (p.length < minLength) {
      this.drop("truncated");
      return false;
    }
    if (finish(addSums(pseudoHeaderSum(ip.src, ip.dst, protocol, p.length), sum(p))) !== 0) {
      this.drop("bad-checksum");
      return false;
    }
    return true;
  }

  #udpInput(ip: IpPacket, packet: Uint8Array, now: number): void {
    const p = ip.payload;
    if (p.length < UDP_HEADER) {
      this.drop("truncated");
      return;
    }
    const len = (p[4] << 8) | p[5];
    if (len < UDP_HEADER || len > p.length) {
      this.drop("bad-udp");
      return;
    }
    const udp = p.subarray(0, len);
    const declared = (p[6] << 8) | p[7];
    if (declared === 0) {
      // RFC 768: 0 = no checksum on IPv4; RFC 8200 §8.1: mandatory on IPv6.
      if (ip.version === 6) {
        this.drop("bad-checksum");
        return;
      }
    } else if (finish(addSums(pseudoHeaderSum(ip.src, ip.dst, PROTO_UDP, len), sum(udp))) !== 0) {
      this.drop("bad-checksum");
      return;
    }
    const srcPort = (p[0] << 8) | p[1];
    const dstPort = (p[2] << 8) | p[3];
    const sock = this.udp.lookup(ip.dst, dstPort, ip.src, srcPort);
    if (sock === null) {
      this.drop("udp-no-socket");
      // RFC 1122 §4.1.3.1 / RFC 4443 §3.1 code 4: port unreachable (rate-limited, never to multicast).
      this.icmp.sendError(
        ip.version,
        ip.version === 4 ? 3 : 1,
        ip.version === 4 ? 3 : 4,
        0,
        ip,
        packet,
        now,
      );
      return;
    }
    sock.handlers.message?.(udp.subarray(UDP_HEADER), ip.src.slice(), srcPort, ip.dst.slice());
  }

  #sendUdp(sock: UdpSocket, dst: IpAddress, dstPort: number, data: Uint8Array): void {
    const src = sock.localAddress ?? this.sourceFor(dst);
    const len = UDP_HEADER + data.length;
    if (len > 65535 - IPV4_HEADER || (dst.length === 16 && IPV6_HEADER + len > this.mtu)) {
      throw new NetstackError("EMSGSIZE", `UDP datagram of ${data.length} bytes is too large`);
    }
    const seg = new Uint8Array(len);
    seg[0] = sock.localPort >>> 8;
    seg[1] = sock.localPort & 0xff;
    seg[2] = dstPort >>> 8;
    seg[3] = dstPort & 0xff;
    seg[4] = len >>> 8;
    seg[5] = len & 0xff;
    seg.set(data, UDP_HEADER);
    this.sendTransport(src, dst, PROTO_UDP, seg, 6);
  }

  /**
   * Wraps an upper-layer message in IP and queues it: fills the checksum at `checksumAt`
   * (pseudo-header for UDP/ICMPv6; ICMPv4 has none). IPv4 datagrams larger than the MTU are
   * fragmented (RFC 791 §3.2). TCP goes through #outputTcp instead.
   */
  sendTransport(
    src: IpAddress,
    dst: IpAddress,
    protocol: number,
    segment: Uint8Array,
    checksumAt: number,
  ): void {
    const v4 = dst.length === 4;
    const hl = v4 ? IPV4_HEADER : IPV6_HEADER;
    const len = segment.length;
    const pkt = new Uint8Array(hl + len);
    pkt.set(segment, hl);
    pkt[hl + checksumAt] = 0;
    pkt[hl + checksumAt + 1] = 0;
    let c =
      protocol === PROTO_ICMP
        ? finish(sum(pkt, hl, len))
        : finish(addSums(pseudoHeaderSum(src, dst, protocol, len), sum(pkt, hl, len)));
    if (c === 0 && protocol === PROTO_UDP) c = 0xffff; // RFC 768: a computed 0 is sent as all ones
    pkt[hl + checksumAt] = c >>> 8;
    pkt[hl + checksumAt + 1] = c & 0xff;
    if (!v4) {
      writeIpv6Header(pkt, src, dst, protocol, len);
      this.#emit(pkt);
      return;
    }
    const id = this.#ipId;
    this.#ipId = (this.#ipId + 1) & 0xffff;
    if (hl + len <= this.mtu || protocol === PROTO_TCP) {
      writeIpv4Header(pkt, {
        src,
        dst,
        protocol,
        totalLength: hl + len,
        id,
        dontFragment: protocol === PROTO_TCP,
      });
      this.#emit(pkt);
      return;
    }
    const chunk = (this.mtu - IPV4_HEADER) & ~7;
    for (let off = 0; off < len; off += chunk) {
      const n = Math.min(chunk, len - off);
      const frag = new Uint8Array(IPV4_HEADER + n);
      frag.set(pkt.subarray(hl + off, hl + off + n), IPV4_HEADER);
      writeIpv4Header(frag, {
        src,
        dst,
        protocol,
        totalLength: IPV4_HEADER + n,
        id,
        dontFragment: false,
        fragmentOffset: off,
        moreFragments: off + n < len,
      });
      this.#emit(frag);
    }
  }

  #emit(pkt: Uint8Array): void {
    this.counters.packetsOut++;
    this.counters.bytesOut += pkt.length;
    this.#out.push(pkt);
    if (this.#out.length === 1) this.onOutput?.();
  }

  #fragmentTimedOut(version: 4 | 6, quote: Uint8Array | null, now: number): void {
    this.drop("fragment-timeout");
    if (quote === null) return;
    // RFC 792 / RFC 4443 §3.3: Time Exceeded code 1 (fragment reassembly) when fragment 0 arrived.
    const src = version === 4 ? quote.subarray(12, 16) : quote.subarray(8, 24);
    this.icmp.sendErrorTo(version, src, version === 4 ? 11 : 3, 1, 0, quote, now);
  }
}
