import { isIP } from "node:net";

/** "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces, as the reference's `:3000`). */
export function parseListenAddress(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new Error(`listen address must be HOST:PORT, [IPV6]:PORT or :PORT, got "${listen}"`);
  }
  const host = match[1] ?? (match[2] || "::");
  if (match[1] !== undefined && isIP(match[1]) !== 6) {
    throw new Error(`listen address "${listen}": brackets must hold an IPv6 address`);
  }
  return { host, port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
