/** Packet builders for netstack tests (RFC 791, RFC 8200, RFC 768, RFC 792/4443). */
import { parseIp } from "../../src/netstack/address.js";
import { addSums, finish, pseudoHeaderSum, sum } from "../../src/netstack/checksum.js";
import { writeIpv4Header } from "../../src/netstack/ipv4.js";
import { writeIpv6Header } from "../../src/netstack/ipv6.js";

export function ip(text: string): Uint8Array {
  const a = parseIp(text);
  if (a === null) throw new Error(`bad address ${text}`);
  return a;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** UDP header + payload with a correct checksum (or `checksum` forced). */
export function udpSegment(
  src: Uint8Array,
  dst: Uint8Array,
  sport: number,
  dport: number,
  payload: Uint8Array,
  checksum?: number,
): Uint8Array {
  const seg = new Uint8Array(8 + payload.length);
  seg[0] = sport >> 8;
  seg[1] = sport & 0xff;
  seg[2] = dport >> 8;
  seg[3] = dport & 0xff;
  seg[4] = seg.length >> 8;
  seg[5] = seg.length & 0xff;
  seg.set(payload, 8);
  const c =
    checksum ?? (finish(addSums(pseudoHeaderSum(src, dst, 17, seg.length), sum(seg))) || 0xffff);
  seg[6] = c >> 8;
  seg[7] = c & 0xff;
  return seg;
}

/** ICMP(v6) message with a correct checksum. */
export function icmpSegment(
  src: Uint8Array,
  dst: Uint8Array,
  type: number,
  code: number,
  rest: number,
  body: Uint8Array,
): Uint8Array {
  const m = new Uint8Array(8 + body.length);
  m[0] = type;
  m[1] = code;
  new DataView(m.buffer).setUint32(4, rest >>> 0);
  m.set(body, 8);
  const c =
    src.length === 4
      ? finish(sum(m))
      : finish(addSums(pseudoHeaderSum(src, dst, 58, m.length), sum(m)));
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

export interface V4Extra {
  id?: number;
  fragmentOffset?: number;
  moreFragments?: boolean;
  dontFragment?: boolean;
}

export function ipv4(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  payload: Uint8Array,
  extra: V4Extra = {},
): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  writeIpv4Header(p, {
    src,
    dst,
    protocol,
    totalLength: p.length,
    id: extra.id ?? 1,
    dontFragment: extra.dontFragment ?? false,
    fragmentOffset: extra.fragmentOffset,
    moreFragments: extra.moreFragments,
  });
  p.set(payload, 20);
  return p;
}

/** IPv6 packet; `ext` = raw extension headers placed before the payload, `first` = the first Next Header. */
export function ipv6(
  src: Uint8Array,
  dst: Uint8Array,
  first: number,
  body: Uint8Array,
): Uint8Array {
  const p = new Uint8Array(40 + body.length);
  writeIpv6Header(p, src, dst, first, body.length);
  p.set(body, 40);
  return p;
}

/** An 8-byte extension header (HbH/DestOpts with PadN, or Routing) naming `next`. */
export function extHeader(
  kind: "options" | "routing",
  next: number,
  opts: { segmentsLeft?: number; optionType?: number } = {},
): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = next;
  h[1] = 0;
  if (kind === "routing") {
    h[2] = 0;
    h[3] = opts.segmentsLeft ?? 0;
  } else {
    h[2] = opts.optionType ?? 1; // PadN
    h[3] = 4;
  }
  return h;
}

export function fragmentHeader(
  next: number,
  offset: number,
  more: boolean,
  id: number,
): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = next;
  h[2] = offset >> 8;
  h[3] = (offset & 0xf8) | (more ? 1 : 0);
  new DataView(h.buffer).setUint32(4, id);
  return h;
}
