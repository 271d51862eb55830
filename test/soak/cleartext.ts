/**
 * The cleartext check: what may cross the underlay bridge between mesh nodes. Node addresses are
 * the lab's underlay 198.18.2.0/24 (any of them: roaming moves nodes inside it) except the
 * discovery service's; the lab has no IPv6 underlay. Violations:
 *
 * - a traffic marker (the pings' and streams' payload text) anywhere in a frame;
 * - an overlay address (198.19.0.0/16, or an IPv6 address that is not link-local/multicast) on
 *   the bridge — the tunnel's inner packets must never appear outside it;
 * - between two node addresses, anything but WireGuard: UDP to or from the mesh port whose
 *   payload has the shape of a WireGuard message (whitepaper §5.4: type 1..4, three reserved
 *   zero bytes, fixed lengths 148 / 92 / 64 for handshake initiation / response / cookie reply,
 *   32 + padded plaintext for transport data, §5.4.6; UDP GSO batches of them), fragments of
 *   such UDP (a lowered underlay MTU), and ICMP errors quoting such UDP (port unreachable after
 *   a node was killed, "fragmentation needed");
 * - between a node and the discovery service, anything but its gRPC port and ICMP errors.
 *
 * Frames are Ethernet II (no VLANs on the lab's bridge).
 */
import { DiscoveryIp } from "../support/mesh-netns.js";

export interface CleartextRules {
  /** Texts that appear only in the traffic's plaintext. */
  readonly markers: readonly string[];
  readonly meshPort: number;
  readonly discoveryPort: number;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const [d0, d1, d2, d3] = DiscoveryIp.split(".").map(Number);

const isDiscovery = (b: Buffer, o: number) =>
  b[o] === d0 && b[o + 1] === d1 && b[o + 2] === d2 && b[o + 3] === d3;
const isNode = (b: Buffer, o: number) =>
  b[o] === 198 && b[o + 1] === 18 && b[o + 2] === 2 && !isDiscovery(b, o);
const isOverlay4 = (b: Buffer, o: number) => b[o] === 198 && b[o + 1] === 19;
const ip4 = (b: Buffer, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/**
 * Smallest plaintext that may be left unpadded: the sender pads to a multiple of 16 but not past
 * the interface MTU (whitepaper §5.4.6; kernel and wireguard-go cap the padding at the MTU), and
 * the soak never sets the mesh MTU below IPv6's minimum, 1280.
 */
const MinMtu = 1280;

function transportLengthOk(len: number): boolean {
  return len >= 32 && ((len - 32) % 16 === 0 || len - 32 >= MinMtu);
}

/** True when `p` (a UDP payload) has the shape of a WireGuard message (whitepaper §5.4). */
export function isWireGuardShaped(p: Buffer): boolean {
  if (p.length < 4 || p[1] !== 0 || p[2] !== 0 || p[3] !== 0) return false;
  switch (p[0]) {
    case 1:
      return p.length === 148;
    case 2:
      return p.length === 92;
    case 3:
      return p.length === 64;
    case 4:
      return transportLengthOk(p.length);
    default:
      return false;
  }
}

/**
 * True when `p` is one WireGuard message or a UDP GSO batch of them: the batched bind sends the
 * messages of one turn to one endpoint as one super-datagram (UDP_SEGMENT), which the capture
 * sees unsplit and the kernel splits at the segment size — so every segment but the last is a
 * whole message of that size, and the last (any type, e.g. a handshake initiation behind
 * transport data) may be shorter.
 */
export function isWireGuardPayload(p: Buffer): boolean {
  if (isWireGuardShaped(p)) return true;
  for (let size = 32; size < p.length; size++) {
    if (!isWireGuardShaped(p.subarray(0, size))) continue;
    let off = size;
    while (p.length - off > size && isWireGuardShaped(p.subarray(off, off + size))) off += size;
    if (isWireGuardShaped(p.subarray(off))) return true;
  }
  return false;
}

/** A frame is a violation, a WireGuard message between nodes, or other allowed traffic. */
export type FrameVerdict = { readonly violation: string } | "wireguard" | "allowed";

export function inspectFrame(frame: Buffer, rules: CleartextRules): FrameVerdict {
  for (const m of rules.markers) {
    if (frame.includes(m))
      return { violation: `plaintext "${m}" on the bridge: ${summary(frame)}` };
  }
  if (frame.length < 14) return "allowed";
  const type = frame.readUInt16BE(12);
  if (type === ETH_IPV6) return inspectIpv6(frame.subarray(14));
  if (type === ETH_IPV4) return inspectIpv4(frame.subarray(14), rules);
  return "allowed"; // ARP and the like
}

function inspectIpv6(p: Buffer): FrameVerdict {
  if (p.length < 40) return "allowed";
  for (const o of [8, 24]) {
    const linkLocal = p[o] === 0xfe && (p[o + 1] & 0xc0) === 0x80;
    const multicast = p[o] === 0xff;
    const unspecified = p.subarray(o, o + 16).every((x) => x === 0);
    if (!linkLocal && !multicast && !unspecified) {
      return {
        violation: `IPv6 ${v6(p, 8)} > ${v6(p, 24)} on the bridge (the lab has no IPv6 underlay: an overlay packet outside the tunnel)`,
      };
    }
  }
  return "allowed";
}

function inspectIpv4(p: Buffer, rules: CleartextRules): FrameVerdict {
  if (p.length < 20) return "allowed";
  const ihl = (p[0] & 0x0f) * 4;
  const proto = p[9];
  const what = `${protoName(proto)} ${ip4(p, 12)} > ${ip4(p, 16)}`;
  if (isOverlay4(p, 12) || isOverlay4(p, 16))
    return { violation: `overlay address on the bridge: ${what}` };
  const fragOffset = p.readUInt16BE(6) & 0x1fff;
  const l4 = p.subarray(ihl);
  const srcNode = isNode(p, 12);
  const dstNode = isNode(p, 16);
  if (srcNode && dstNode) {
    if (proto === PROTO_UDP) {
      if (fragOffset !== 0) return "allowed"; // a later fragment: its first carries the header
      if (l4.length < 8) return { violation: `truncated UDP ${what}` };
      const sport = l4.readUInt16BE(0);
      const dport = l4.readUInt16BE(2);
      if (sport !== rules.meshPort && dport !== rules.meshPort) {
        return { violation: `non-WireGuard UDP between nodes: ${what} ${sport} > ${dport}` };
      }
      const more = (p.readUInt16BE(6) & 0x2000) !== 0;
      const payload = l4.subarray(8);
      if (more) {
        return payload[0] === 4
          ? "wireguard"
          : { violation: `fragmented non-transport UDP ${what}` };
      }
      return isWireGuardPayload(payload)
        ? "wireguard"
        : {
            violation: `${what} on the mesh port that is not a WireGuard message (type ${payload[0]}, ${payload.length} bytes)`,
          };
    }
    if (proto === PROTO_ICMP && quotesMeshUdp(l4, rules.meshPort)) return "allowed";
    return { violation: `non-WireGuard traffic between nodes: ${what}` };
  }
  if ((srcNode && isDiscovery(p, 16)) || (dstNode && isDiscovery(p, 12))) {
    if (proto === PROTO_TCP && l4.length >= 4) {
      const sport = l4.readUInt16BE(0);
      const dport = l4.readUInt16BE(2);
      if (sport === rules.discoveryPort || dport === rules.discoveryPort) return "allowed";
    }
    if (proto === PROTO_ICMP && (l4[0] === 3 || l4[0] === 11)) return "allowed";
    return { violation: `unexpected traffic between a node and discovery: ${what}` };
  }
  return "allowed";
}

/** An ICMP error (destination unreachable, time exceeded) quoting UDP of the mesh port. */
function quotesMeshUdp(icmp: Buffer, meshPort: number): boolean {
  if (icmp.length < 8 + 20 + 4 || (icmp[0] !== 3 && icmp[0] !== 11)) return false;
  const inner = icmp.subarray(8);
  if (inner[9] !== PROTO_UDP) return false;
  const udp = inner.subarray((inner[0] & 0x0f) * 4);
  if (udp.length < 4) return false;
  return udp.readUInt16BE(0) === meshPort || udp.readUInt16BE(2) === meshPort;
}

function protoName(p: number): string {
  return p === PROTO_UDP
    ? "UDP"
    : p === PROTO_TCP
      ? "TCP"
      : p === PROTO_ICMP
        ? "ICMP"
        : `proto ${p}`;
}

function v6(p: Buffer, o: number): string {
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(p.readUInt16BE(o + i).toString(16));
  return words.join(":");
}

function summary(frame: Buffer): string {
  if (frame.length >= 34 && frame.readUInt16BE(12) === ETH_IPV4) {
    const p = frame.subarray(14);
    return `${protoName(p[9])} ${ip4(p, 12)} > ${ip4(p, 16)}`;
  }
  if (frame.length >= 54 && frame.readUInt16BE(12) === ETH_IPV6) {
    const p = frame.subarray(14);
    return `IPv6 ${v6(p, 8)} > ${v6(p, 24)}`;
  }
  return `ethertype 0x${frame.readUInt16BE(12).toString(16)}`;
}
