/**
 * IP addresses as the netstack handles them: 4 bytes (IPv4) or 16 bytes (IPv6) in network
 * order. Text forms per RFC 4291 §2.2 (input) and RFC 5952 (output: lower case, longest run of
 * zero groups compressed).
 *
 * The same grammar as @wirespan/noise's cidr.ts, kept apart on purpose: tun and noise must not
 * depend on each other and both cores stay portable (so no node:net here, which in any case
 * parses no bytes); the two also differ (a zone suffix is accepted here, null instead of a
 * throw, no IPv4-mapped printing). One shared leaf package would be the clean fix.
 */

/** 4 bytes (IPv4) or 16 bytes (IPv6), network byte order. */
export type IpAddress = Uint8Array;

/** Parses dotted-quad IPv4 or RFC 4291 IPv6 text (an embedded IPv4 tail is accepted); null if invalid. */
export function parseIp(text: string): IpAddress | null {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): IpAddress | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): IpAddress | null {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (v4 === null) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(Number.parseInt(p, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/** RFC 5952 text form. */
export function formatIp(a: IpAddress): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((a[i] << 8) | a[i + 1]);
  // RFC 5952 §4.2.3: compress the longest run (first if tied) of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** A cheap Map key for an address (its bytes as a string of char codes). */
export function ipKey(a: IpAddress): string {
  return String.fromCharCode.apply(null, a as unknown as number[]);
}

/** Byte equality of two addresses. */
export function ipEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Multicast (224/4, ff00::/8), limited broadcast or unspecified: never answered with ICMP errors. */
export function isMulticastOrBroadcast(a: Uint8Array): boolean {
  if (a.length === 4) return a[0] >= 224 || (a[0] | a[1] | a[2] | a[3]) === 0;
  if (a[0] === 0xff) return true;
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}
