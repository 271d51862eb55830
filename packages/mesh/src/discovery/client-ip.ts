import { isIP, isIPv4 } from "node:net";

/**
 * The caller's address (kubespan.md §1.6). `client_ip` is netip.Addr binary form: 4 bytes for
 * IPv4, 16 for IPv6, empty when unknown. Forwarding headers are trusted only when the operator
 * says a proxy sets them (the reference trusts them by default, which lets anyone spoof it).
 */

/** Address part of a grpc-js peer string: "1.2.3.4:5", "::1:5", "[::1]:5", "unknown". */
export function peerAddress(peer: string): string | undefined {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(peer);
  // grpc-js writes `${remoteAddress}:${remotePort}` without brackets, so the last field is the port.
  const colon = peer.lastIndexOf(":");
  const candidates = bracket ? [bracket[1]] : colon > 0 ? [peer.slice(0, colon), peer] : [peer];
  for (const candidate of candidates) {
    const host = candidate.replace(/%.*$/, "");
    if (isIP(host)) return host;
  }
  return undefined;
}

/** X-Real-IP, then the first X-Forwarded-For entry (the reference's order), when trusted. */
export function forwardedAddress(realIp: string | undefined, forwardedFor: string | undefined) {
  for (const candidate of [realIp, forwardedFor?.split(",")[0]]) {
    const host = candidate?.trim().replace(/^\[(.*)\]$/, "$1");
    if (host && isIP(host)) return host;
  }
  return undefined;
}

/** netip.Addr binary form; IPv4-mapped IPv6 is unmapped to 4 bytes. */
export function encodeAddress(address: string | undefined): Buffer {
  if (!address) return Buffer.alloc(0);
  if (isIPv4(address)) return Buffer.from(address.split(".").map(Number));
  const bytes = parseIPv6(address.replace(/%.*$/, ""));
  if (!bytes) return Buffer.alloc(0);
  const mapped = bytes
    .subarray(0, 12)
    .equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255]));
  return mapped ? Buffer.from(bytes.subarray(12)) : bytes;
}

function parseIPv6(address: string): Buffer | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const tail: number[] = [];
  if (text.includes(".")) {
    // Embedded IPv4 (RFC 4291 §2.2 form 3): the last 32 bits written as a dotted quad.
    const cut = text.lastIndexOf(":");
    const octets = text
      .slice(cut + 1)
      .split(".")
      .map(Number);
    tail.push((octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]);
    text = text.slice(0, cut + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const words = (s: string) => (s === "" ? [] : s.split(":").map((h) => Number.parseInt(h, 16)));
  let all: number[];
  if (text.includes("::")) {
    const [head, rest] = text.split("::");
    const left = words(head);
    const right = [...words(rest), ...tail];
    all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  } else {
    all = [...words(text), ...tail];
  }
  if (all.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  for (const [i, word] of all.entries()) out.writeUInt16BE(word, i * 2);
  return out;
}
