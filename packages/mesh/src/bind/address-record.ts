/**
 * The batched-UDP addon's 20-byte address record (family, port, address bytes), and the
 * endpoints made from it: encoding an Endpoint for sendmmsg, and a received address kept in binary
 * with its text built on first use.
 */
import type { Endpoint } from "@wirespan/noise";

/** Bytes per address record: [0] family (4/6), [2..3] port (big-endian), [4..] address. */
export const ADDR_RECORD = 20;

/** Encodes an endpoint as the addon's 20-byte address record; null if unparseable. */
export function encodeEndpoint(e: Endpoint): Uint8Array | null {
  const rec = new Uint8Array(ADDR_RECORD);
  rec[2] = e.port >> 8;
  rec[3] = e.port & 0xff;
  if (e.family === 4) {
    const parts = e.address.split(".");
    if (parts.length !== 4) return null;
    rec[0] = 4;
    for (let i = 0; i < 4; i++) {
      const v = Number(parts[i]);
      if (!Number.isInteger(v) || v < 0 || v > 255) return null;
      rec[4 + i] = v;
    }
    return rec;
  }
  rec[0] = 6;
  const bytes = parseIpv6(e.address);
  if (bytes === null) return null;
  rec.set(bytes, 4);
  return rec;
}

function parseIpv6(text: string): Uint8Array | null {
  let s = text;
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const res: number[] = [];
    for (const g of h.split(":")) {
      if (g.includes(".")) {
        const p = g.split(".").map(Number);
        if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return null;
        res.push((p[0] << 8) | p[1], (p[2] << 8) | p[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        res.push(Number.parseInt(g, 16));
      }
    }
    return res;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1 ? head.length !== 8 : head.length + tail.length > 7) return null;
  const all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

function formatIpv6(b: Uint8Array, off: number): string {
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[off + 2 * i] << 8) | b[off + 2 * i + 1]).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === "0") j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(":");
  return `${g.slice(0, best).join(":")}::${g.slice(best + bestLen).join(":")}`;
}

/**
 * A received endpoint in binary (address bytes + port); the text form is built on first use
 * only, which most flood packets, dropped by the Engine before anything prints or compares
 * them, never need (issue #11).
 */
export class BinaryEndpoint implements Endpoint {
  private text: string | null = null;

  constructor(
    readonly ip: Uint8Array,
    readonly port: number,
    readonly family: 4 | 6,
  ) {}

  get address(): string {
    if (this.text === null) {
      const b = this.ip;
      this.text = this.family === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : formatIpv6(b, 0);
    }
    return this.text;
  }
}
