/**
 * `ip:port` text for KubeSpan endpoints, on top of @wirespan/noise's endpoint codec (Go
 * netip.AddrPort syntax). KubeSpan keeps endpoints in canonical text so that equal endpoints
 * compare equal as strings (endpoint cycling and dedup rely on it, reference §4.3, §4.4).
 * Port 0 is refused: nobody can dial it.
 */
import { formatEndpoint, formatIp, parseEndpoint, parseIp } from "@wirespan/noise";

export interface IpPort {
  /** 4 or 16 bytes. */
  readonly ip: Uint8Array;
  readonly port: number;
}

/** Parses `ip:port` / `[ipv6]:port` (port 1..65535); throws an Error naming the input. */
export function parseIpPort(text: string): IpPort {
  const e = parseEndpoint(text);
  if (e.port === 0) throw new Error(`invalid endpoint ${JSON.stringify(text)}: port 0`);
  return { ip: parseIp(e.address), port: e.port };
}

/** Canonical `ip:port` text (IPv6 in brackets, RFC 5952 address form). */
export function formatIpPort(ip: Uint8Array, port: number): string {
  return formatEndpoint({ address: formatIp(ip), port, family: ip.length === 4 ? 4 : 6 });
}

/** Re-prints `text` canonically (e.g. `[FD00:0::1]:1` → `[fd00::1]:1`); throws when malformed. */
export function canonicalIpPort(text: string): string {
  const { ip, port } = parseIpPort(text);
  return formatIpPort(ip, port);
}
