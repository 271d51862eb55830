/**
 * IP addresses and CIDR prefixes as bytes, parsed and printed the way wireguard-go does it
 * through Go's net/netip: IPv4 dotted quads without leading zeros, IPv6 per RFC 4291 §2.2
 * (with `::` and an optional trailing dotted quad), printed per RFC 5952 (lowercase, longest
 * run of two or more zero groups compressed). Pure functions; no platform APIs.
 */

/** An IP prefix: `bytes` has the host bits zeroed. */
export interface Cidr {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network byte order, host bits zero. */
  readonly bytes: Uint8Array;
  /** Prefix length: 0..32 (IPv4) or 0..128 (IPv6). */
  readonly bits: number;
}

const DEC = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Into(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!DEC.test(p)) return false;
    const v = Number(p);
    if (v > 255) return false;
    out[at + i] = v;
  }
  return true;
}

function parseIpv6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  if (text.length < 2) return null;
  const dbl = text.indexOf("::");
  if (dbl !== -1 && text.indexOf("::", dbl + 1) !== -1) return null;
  const head = dbl === -1 ? text : text.slice(0, dbl);
  const tail = dbl === -1 ? "" : text.slice(dbl + 2);
  const headParts = head === "" ? [] : head.split(":");
  const tailParts = tail === "" ? [] : tail.split(":");
  // Expand each side into 16-bit groups; a dotted quad may only end the address.
  const groups = (parts: string[], isLast: boolean): number[] | null => {
    const res: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (isLast && i === parts.length - 1 && p.includes(".")) {
        const q = new Uint8Array(4);
        if (!parseIpv4Into(p, q, 0)) return null;
        res.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
      } else {
        if (!HEX_GROUP.test(p)) return null;
        res.push(Number.parseInt(p, 16));
      }
    }
    return res;
  };
  const h = groups(headParts, dbl === -1);
  const t = groups(tailParts, true);
  if (h === null || t === null) return null;
  if (dbl === -1) {
    if (h.length !== 8) return null;
  } else if (h.length + t.length > 7) {
    return null;
  }
  const all = dbl === -1 ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  for (let i = 0; i < 8; i++) {
    out[i * 2] = all[i] >> 8;
    out[i * 2 + 1] = all[i] & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes; throws an Error naming the input otherwise. */
export function parseIp(text: string): Uint8Array {
  if (typeof text === "string") {
    if (text.includes(":")) {
      const v6 = parseIpv6(text);
      if (v6 !== null) return v6;
    } else {
      const v4 = new Uint8Array(4);
      if (parseIpv4Into(text, v4, 0)) return v4;
    }
  }
  throw new Error(`invalid IP address: ${JSON.stringify(text)}`);
}

/** Prints 4 bytes as a dotted quad and 16 bytes as RFC 5952 IPv6 (as Go's netip does). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new Error(`IP address must be 4 or 16 bytes, got ${bytes.length}`);
  // IPv4-mapped addresses print with a dotted quad, like netip's Addr.String.
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = bytes[i] === 0;
  if (mapped) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[i * 2] << 8) | bytes[i * 2 + 1]);
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(":");
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Zeroes the bits after the first `bits` (in place). */
function maskBytes(bytes: Uint8Array, bits: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(Math.max(bits - i * 8, 0), 8);
    bytes[i] &= (0xff00 >> keep) & 0xff;
  }
}

/** Builds a prefix from address bytes (copied) and a length, masking off host bits. */
export function makeCidr(address: Uint8Array, bits: number): Cidr {
  const max = address.length * 8;
  if (address.length !== 4 && address.length !== 16) {
    throw new Error(`IP address must be 4 or 16 bytes, got ${address.length}`);
  }
  if (!Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new Error(`invalid prefix length ${bits} for a ${max}-bit address`);
  }
  const bytes = Uint8Array.from(address);
  maskBytes(bytes, bits);
  return { family: address.length === 4 ? 4 : 6, bytes, bits };
}

/**
 * Parses `198.19.0.0/16` or `fd00::/8`. A bare address is a host prefix (/32 or /128).
 * Host bits are masked off, as wireguard-go's allowed-IPs insert does. Throws on garbage.
 */
export function parseCidr(text: string): Cidr {
  if (typeof text !== "string") throw new Error(`invalid CIDR: ${JSON.stringify(text)}`);
  const slash = text.indexOf("/");
  const addrText = slash === -1 ? text : text.slice(0, slash);
  let address: Uint8Array;
  try {
    address = parseIp(addrText);
  } catch {
    throw new Error(`invalid CIDR ${JSON.stringify(text)}: bad address`);
  }
  const max = address.length * 8;
  let bits = max;
  if (slash !== -1) {
    const b = text.slice(slash + 1);
    if (!DEC.test(b) || Number(b) > max) {
      throw new Error(`invalid CIDR ${JSON.stringify(text)}: prefix length must be 0..${max}`);
    }
    bits = Number(b);
  }
  return makeCidr(address, bits);
}

/** Canonical text, e.g. `198.19.0.0/16`, `fd00::/8`. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.bytes)}/${c.bits}`;
}

/** True if `address` (4 or 16 bytes) lies inside `c`. */
export function cidrContains(c: Cidr, address: Uint8Array): boolean {
  if (address.length !== c.bytes.length) return false;
  let left = c.bits;
  for (let i = 0; left > 0; i++, left -= 8) {
    const mask = left >= 8 ? 0xff : (0xff00 >> left) & 0xff;
    if ((address[i] & mask) !== c.bytes[i]) return false;
  }
  return true;
}
