// @ts-check
/**
 * Just enough IPv4 for the examples: an ICMP echo request/reply (RFC 791 header, RFC 792 echo)
 * with correct checksums, and a reader for them. Runs in any JavaScript runtime.
 */

/** @param {Uint8Array} bytes @param {number} start @param {number} end */
function checksum(bytes, start, end) {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** @param {string} ip */
function ipv4(ip) {
  return ip.split(".").map(Number);
}

/**
 * An ICMP echo packet from `src` to `dst`.
 * @param {{ src: string, dst: string, reply?: boolean, id: number, seq: number, data?: Uint8Array }} o
 */
export function icmpEcho(o) {
  const data = o.data ?? new TextEncoder().encode("wirespan");
  const p = new Uint8Array(28 + data.length);
  const v = new DataView(p.buffer);
  p[0] = 0x45; // IPv4, 20-byte header
  v.setUint16(2, p.length);
  p[8] = 64; // TTL
  p[9] = 1; // ICMP
  p.set(ipv4(o.src), 12);
  p.set(ipv4(o.dst), 16);
  v.setUint16(10, checksum(p, 0, 20));
  p[20] = o.reply ? 0 : 8; // echo reply / echo request
  v.setUint16(24, o.id);
  v.setUint16(26, o.seq);
  p.set(data, 28);
  v.setUint16(22, checksum(p, 20, p.length));
  return p;
}

/**
 * The echo fields of an IPv4 ICMP echo packet, or null for anything else.
 * @param {Uint8Array} p
 */
export function readEcho(p) {
  if (p.length < 28 || p[0] >> 4 !== 4 || p[9] !== 1 || (p[20] !== 0 && p[20] !== 8)) return null;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  return {
    src: [...p.subarray(12, 16)].join("."),
    dst: [...p.subarray(16, 20)].join("."),
    reply: p[20] === 0,
    id: v.getUint16(24),
    seq: v.getUint16(26),
    data: p.slice(28),
  };
}
