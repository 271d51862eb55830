/**
 * The STUN Binding subset wirespan needs (RFC 8489, reference/nat-relay.md §2): a request
 * carrying only FINGERPRINT, a success response carrying XOR-MAPPED-ADDRESS + FINGERPRINT, and a
 * classifier that tells STUN from WireGuard on the one UDP socket both share (§2.3).
 *
 * Written here instead of taken from npm: the candidates (§2.4) pull in address libraries or a
 * CLI stack for what is ~150 lines, and the decoder must never throw on network input (it
 * returns null; the fuzz test holds it to that).
 */
import { crc32 } from "node:zlib";
import { formatIp, parseIp } from "@wirespan/noise";

/** §5: the fixed magic cookie in bytes 4–7. */
export const StunMagicCookie = 0x2112a442;
/** §5 header length. */
export const StunHeaderLength = 20;
/** §6 message types of the Binding method. */
export const StunBindingRequest = 0x0001;
export const StunBindingSuccess = 0x0101;
/** §18.3 attribute types. */
const MappedAddress = 0x0001;
const XorMappedAddress = 0x0020;
/** Some servers send XOR-MAPPED-ADDRESS under its pre-RFC 5389 number (§2.1). */
const XorMappedAddressOld = 0x8020;
const Fingerprint = 0x8028;
/** §14.7: CRC-32 XOR 0x5354554e ("STUN"). */
const FingerprintXor = 0x5354554e;
const FingerprintAttrLength = 8;
/**
 * Comprehension-required attributes (§14) this decoder may meet in a Binding exchange and can
 * ignore: USERNAME, MESSAGE-INTEGRITY, ERROR-CODE, UNKNOWN-ATTRIBUTES, REALM, NONCE,
 * MESSAGE-INTEGRITY-SHA256, PASSWORD-ALGORITHM, USERHASH.
 */
const Understood = new Set([
  0x0006, 0x0008, 0x0009, 0x000a, 0x0014, 0x0015, 0x001c, 0x001d, 0x001e,
]);

export interface MappedAddress {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export interface StunMessage {
  readonly type: number;
  /** The 96-bit transaction ID (§5), 12 bytes. */
  readonly transactionId: Uint8Array;
  /** XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS), when present and well formed. */
  readonly mapped: MappedAddress | null;
}

/**
 * True when `data` looks like STUN (§2.3, RFC 7983): top two bits zero, the magic cookie, and a
 * length field that accounts for the whole datagram. A WireGuard message has bytes 1–3 zero and
 * its 32-bit index at offset 4, so the cookie alone matches one in 2^32; the length check makes a
 * mix-up need a WireGuard datagram of exactly the right size as well.
 */
export function isStun(data: Uint8Array): boolean {
  if (data.length < StunHeaderLength || (data[0] & 0xc0) !== 0) return false;
  if (readU32(data, 4) !== StunMagicCookie) return false;
  const len = (data[2] << 8) | data[3];
  return len % 4 === 0 && len + StunHeaderLength === data.length;
}

/** A Binding request with FINGERPRINT (§6.1, §14.7; 28 bytes). */
export function encodeBindingRequest(transactionId: Uint8Array): Uint8Array {
  return finish(StunBindingRequest, transactionId, []);
}

/** A Binding success response carrying the request's source in XOR-MAPPED-ADDRESS (§6.3, §14.2). */
export function encodeBindingSuccess(transactionId: Uint8Array, mapped: MappedAddress): Uint8Array {
  const ip = parseIp(mapped.address);
  const value = new Uint8Array(4 + ip.length);
  value[1] = ip.length === 4 ? 0x01 : 0x02;
  const xport = mapped.port ^ (StunMagicCookie >>> 16);
  value[2] = xport >> 8;
  value[3] = xport & 0xff;
  const mask = xorMask(transactionId);
  for (let i = 0; i < ip.length; i++) value[4 + i] = ip[i] ^ mask[i];
  return finish(StunBindingSuccess, transactionId, [[XorMappedAddress, value]]);
}

/**
 * Parses a STUN message; null when it is not one or is malformed (network input: never throws).
 * A FINGERPRINT, when present, must be last and correct (§14.7).
 */
export function decodeStun(data: Uint8Array): StunMessage | null {
  if (!isStun(data)) return null;
  const type = (data[0] << 8) | data[1];
  // Copies, not views: a Buffer's slice() shares memory, and the caller's bytes stay untouched.
  const transactionId = new Uint8Array(data.subarray(8, 20));
  let mapped: MappedAddress | null = null;
  let plain: MappedAddress | null = null;
  let off = StunHeaderLength;
  while (off < data.length) {
    if (off + 4 > data.length) return null;
    const attr = (data[off] << 8) | data[off + 1];
    const len = (data[off + 2] << 8) | data[off + 3];
    const start = off + 4;
    const end = start + len;
    if (end > data.length) return null;
    const value = data.subarray(start, end);
    if (attr === Fingerprint) {
      if (len !== 4 || end !== data.length) return null;
      if (readU32(value, 0) !== fingerprintOf(data.subarray(0, off))) return null;
    } else if (attr === XorMappedAddress || attr === XorMappedAddressOld) {
      mapped ??= decodeAddress(value, transactionId, true);
    } else if (attr === MappedAddress) {
      plain ??= decodeAddress(value, transactionId, false);
    } else if (attr < 0x8000 && !Understood.has(attr)) {
      return null; // §6.3.3 / §7.3.1: unknown comprehension-required attribute
    }
    off = start + ((len + 3) & ~3); // §14: values are padded to 4 bytes
  }
  if (off !== data.length) return null;
  return { type, transactionId, mapped: mapped ?? plain };
}

/** §14.1 / §14.2 address value; null when malformed. */
function decodeAddress(value: Uint8Array, txid: Uint8Array, xored: boolean): MappedAddress | null {
  if (value.length < 4) return null;
  const fam = value[1];
  const size = fam === 0x01 ? 4 : fam === 0x02 ? 16 : 0;
  if (size === 0 || value.length !== 4 + size) return null;
  let port = (value[2] << 8) | value[3];
  const ip = new Uint8Array(value.subarray(4, 4 + size));
  if (xored) {
    port ^= StunMagicCookie >>> 16;
    const mask = xorMask(txid);
    for (let i = 0; i < size; i++) ip[i] ^= mask[i];
  }
  return { address: formatIp(ip), port, family: size === 4 ? 4 : 6 };
}

/** §14.2: the cookie followed by the transaction ID, XORed over the address. */
function xorMask(txid: Uint8Array): Uint8Array {
  const mask = new Uint8Array(16);
  writeU32(mask, 0, StunMagicCookie);
  mask.set(txid.subarray(0, 12), 4);
  return mask;
}

/** Header + attributes + FINGERPRINT, with the length field covering the fingerprint (§14.7). */
function finish(
  type: number,
  transactionId: Uint8Array,
  attrs: ReadonlyArray<readonly [number, Uint8Array]>,
): Uint8Array {
  if (transactionId.length !== 12) throw new RangeError("STUN transaction ID must be 12 bytes");
  let body = 0;
  for (const [, v] of attrs) body += 4 + ((v.length + 3) & ~3);
  const out = new Uint8Array(StunHeaderLength + body + FingerprintAttrLength);
  out[0] = type >> 8;
  out[1] = type & 0xff;
  const len = body + FingerprintAttrLength;
  out[2] = len >> 8;
  out[3] = len & 0xff;
  writeU32(out, 4, StunMagicCookie);
  out.set(transactionId, 8);
  let off = StunHeaderLength;
  for (const [t, v] of attrs) {
    out[off] = t >> 8;
    out[off + 1] = t & 0xff;
    out[off + 2] = v.length >> 8;
    out[off + 3] = v.length & 0xff;
    out.set(v, off + 4);
    off += 4 + ((v.length + 3) & ~3);
  }
  out[off] = Fingerprint >> 8;
  out[off + 1] = Fingerprint & 0xff;
  out[off + 3] = 4;
  writeU32(out, off + 4, fingerprintOf(out.subarray(0, off)));
  return out;
}

function fingerprintOf(prefix: Uint8Array): number {
  return (crc32(prefix) ^ FingerprintXor) >>> 0;
}

function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}
