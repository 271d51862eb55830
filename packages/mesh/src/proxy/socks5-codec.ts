/**
 * SOCKS5 messages (RFC 1928) and username/password sub-negotiation (RFC 1929), pure: each parser
 * takes the bytes received so far and answers "need more", a message and how many bytes it used,
 * or a protocol error naming the reply to send. Nothing here throws on any input.
 */
import { isIPv4, isIPv6 } from "node:net";
import { formatIp, parseIp } from "@wirespan/noise";

export const SOCKS_VERSION = 0x05;
/** RFC 1928 §3 methods. */
export const Method = { NoAuth: 0x00, UserPass: 0x02, NoAcceptable: 0xff } as const;
/** RFC 1928 §4 commands. */
export const Command = { Connect: 0x01, Bind: 0x02, UdpAssociate: 0x03 } as const;
/** RFC 1928 §5 address types. */
export const AddrType = { IPv4: 0x01, Domain: 0x03, IPv6: 0x04 } as const;
/** RFC 1928 §6 reply codes. */
export const Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowed: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;
/** RFC 1929 §2: the sub-negotiation's own version byte. */
export const USERPASS_VERSION = 0x01;

/** Not enough bytes yet. */
export const NEED_MORE = "need-more" as const;

/** A malformed message: `reason` is counted, `reply` (when not null) is sent before closing. */
export interface Malformed {
  readonly error: string;
  readonly reply: number | null;
}

export type Parsed<T> =
  | typeof NEED_MORE
  | Malformed
  | { readonly value: T; readonly length: number };

export function isMalformed<T>(p: Parsed<T>): p is Malformed {
  return typeof p === "object" && "error" in p;
}

/** RFC 1928 §3: VER, NMETHODS, METHODS. */
export function parseGreeting(b: Uint8Array): Parsed<Uint8Array> {
  if (b.length < 1) return NEED_MORE;
  if (b[0] !== SOCKS_VERSION) return { error: "bad_version", reply: null };
  if (b.length < 2) return NEED_MORE;
  const n = b[1];
  if (n === 0) return { error: "no_methods", reply: null };
  if (b.length < 2 + n) return NEED_MORE;
  return { value: b.subarray(2, 2 + n), length: 2 + n };
}

/** RFC 1929 §2: VER=1, ULEN, UNAME, PLEN, PASSWD (each 1..255 bytes). */
export function parseUserPass(
  b: Uint8Array,
): Parsed<{ readonly user: Uint8Array; readonly pass: Uint8Array }> {
  if (b.length < 1) return NEED_MORE;
  if (b[0] !== USERPASS_VERSION) return { error: "bad_auth_version", reply: null };
  if (b.length < 2) return NEED_MORE;
  const ulen = b[1];
  if (ulen === 0) return { error: "bad_auth", reply: null };
  if (b.length < 3 + ulen) return NEED_MORE;
  const plen = b[2 + ulen];
  if (plen === 0) return { error: "bad_auth", reply: null };
  const end = 3 + ulen + plen;
  if (b.length < end) return NEED_MORE;
  return { value: { user: b.subarray(2, 2 + ulen), pass: b.subarray(3 + ulen, end) }, length: end };
}

/** A destination: an IP literal (family 4 or 6) or a domain name to resolve. */
export interface SocksAddress {
  readonly host: string;
  readonly port: number;
  readonly type: (typeof AddrType)[keyof typeof AddrType];
}

export interface SocksRequest extends SocksAddress {
  readonly command: number;
}

/**
 * ATYP, DST.ADDR, DST.PORT at `off` (shared by requests and UDP datagram headers, §4 and §7).
 * A domain must be printable ASCII without NUL or spaces (RFC 1928 §5 "no terminating NUL").
 */
export function parseAddress(b: Uint8Array, off: number): Parsed<SocksAddress> {
  if (b.length < off + 1) return NEED_MORE;
  const type = b[off];
  let host: string;
  let end: number;
  if (type === AddrType.IPv4) {
    end = off + 1 + 4 + 2;
    if (b.length < end) return NEED_MORE;
    host = formatIp(b.subarray(off + 1, off + 5));
  } else if (type === AddrType.IPv6) {
    end = off + 1 + 16 + 2;
    if (b.length < end) return NEED_MORE;
    host = formatIp(b.subarray(off + 1, off + 17));
  } else if (type === AddrType.Domain) {
    if (b.length < off + 2) return NEED_MORE;
    const n = b[off + 1];
    end = off + 2 + n + 2;
    if (b.length < end) return NEED_MORE;
    host = "";
    for (let i = off + 2; i < off + 2 + n; i++) {
      const c = b[i];
      if (c <= 0x20 || c >= 0x7f) return { error: "bad_domain", reply: Reply.GeneralFailure };
      host += String.fromCharCode(c);
    }
    if (n === 0) return { error: "bad_domain", reply: Reply.GeneralFailure };
  } else {
    return { error: "bad_address_type", reply: Reply.AddressTypeNotSupported };
  }
  const port = (b[end - 2] << 8) | b[end - 1];
  return { value: { host, port, type }, length: end - off };
}

/** RFC 1928 §4: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT. */
export function parseRequest(b: Uint8Array): Parsed<SocksRequest> {
  if (b.length < 1) return NEED_MORE;
  if (b[0] !== SOCKS_VERSION) return { error: "bad_version", reply: Reply.GeneralFailure };
  if (b.length < 3) return NEED_MORE;
  if (b[2] !== 0) return { error: "bad_reserved", reply: Reply.GeneralFailure };
  const a = parseAddress(b, 3);
  if (a === NEED_MORE || isMalformed(a)) return a;
  return { value: { ...a.value, command: b[1] }, length: 3 + a.length };
}

/** Encodes ATYP, ADDR, PORT for an IP literal (a name is sent as a domain). */
export function encodeAddress(host: string, port: number): Uint8Array {
  let addr: Uint8Array;
  if (isIPv4(host) || isIPv6(host)) {
    const ip = parseIp(host.replace(/%.*$/, ""));
    addr = Uint8Array.of(ip.length === 4 ? AddrType.IPv4 : AddrType.IPv6, ...ip);
  } else {
    const name = new TextEncoder().encode(host).subarray(0, 255);
    addr = Uint8Array.of(AddrType.Domain, name.length, ...name);
  }
  const out = new Uint8Array(addr.length + 2);
  out.set(addr);
  out[addr.length] = port >> 8;
  out[addr.length + 1] = port & 0xff;
  return out;
}

/** RFC 1928 §6 reply; BND.ADDR 0.0.0.0:0 unless given. */
export function encodeReply(rep: number, host = "0.0.0.0", port = 0): Uint8Array {
  const addr = encodeAddress(host, port);
  const out = new Uint8Array(3 + addr.length);
  out.set([SOCKS_VERSION, rep, 0]);
  out.set(addr, 3);
  return out;
}

/** RFC 1928 §7 UDP request header: RSV(2)=0, FRAG, then the address; `data` after it. */
export interface UdpDatagram {
  readonly frag: number;
  readonly dst: SocksAddress;
  readonly data: Uint8Array;
}

export function parseUdpDatagram(b: Uint8Array): UdpDatagram | Malformed {
  if (b.length < 4) return { error: "udp_short", reply: null };
  if (b[0] !== 0 || b[1] !== 0) return { error: "udp_reserved", reply: null };
  const a = parseAddress(b, 3);
  if (a === NEED_MORE) return { error: "udp_short", reply: null };
  if (isMalformed(a)) return { error: `udp_${a.error}`, reply: null };
  return { frag: b[2], dst: a.value, data: b.subarray(3 + a.length) };
}

export function encodeUdpDatagram(host: string, port: number, data: Uint8Array): Uint8Array {
  const addr = encodeAddress(host, port);
  const out = new Uint8Array(3 + addr.length + data.length);
  out.set(addr, 3);
  out.set(data, 3 + addr.length);
  return out;
}

/** Maps a connect error's `code` to the RFC 1928 §6 reply a client understands. */
export function replyForError(code: string | undefined): number {
  switch (code) {
    case "ECONNREFUSED":
      return Reply.ConnectionRefused;
    case "ENETUNREACH":
      return Reply.NetworkUnreachable;
    case "EHOSTUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "ETIMEDOUT":
      return Reply.HostUnreachable;
    default:
      return Reply.GeneralFailure;
  }
}
