import { formatIp, parseIp } from "./cidr.js";

/**
 * A UDP endpoint (IP address and port) as the protocol core sees it: plain data, no sockets.
 * Addresses are textual (`198.18.0.1`, `fd00::1`) so endpoints compare and log without any
 * platform API; `family` says which.
 */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  /**
   * The address as 4 or 16 bytes, when the runtime has them (a socket layer reads them in
   * binary): the receive path then needs no parsing per datagram. Must match `address`.
   */
  readonly ip?: Uint8Array;
}

const PORT = /^[0-9]{1,5}$/;

/**
 * Parses `198.18.0.1:51820` or `[fd00::1]:51820` (the UAPI `endpoint=` syntax, as Go's
 * netip.ParseAddrPort reads it; zones are not supported). The address is stored in canonical
 * form (RFC 5952 for IPv6). Throws an Error naming the input on anything else.
 */
export function parseEndpoint(text: string): Endpoint {
  const fail = (why: string): never => {
    throw new Error(`invalid endpoint ${JSON.stringify(text)}: ${why}`);
  };
  if (typeof text !== "string") return fail("not a string");
  const colon = text.lastIndexOf(":");
  if (colon === -1) return fail("missing :port");
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  const bracketed = host.startsWith("[") && host.endsWith("]");
  if (bracketed) host = host.slice(1, -1);
  else if (host.includes(":")) fail("IPv6 addresses must be in square brackets");
  if (!PORT.test(portText) || Number(portText) > 65535) fail("port must be 0..65535");
  let bytes: Uint8Array;
  try {
    bytes = parseIp(host);
  } catch {
    return fail("bad IP address");
  }
  if (bracketed && bytes.length === 4) fail("square brackets are only for IPv6");
  return { address: formatIp(bytes), port: Number(portText), family: bytes.length === 4 ? 4 : 6 };
}

/** `198.18.0.1:51820` or `[fd00::1]:51820`, with the address in canonical form. */
export function formatEndpoint(e: Endpoint): string {
  let address = e.address;
  try {
    address = formatIp(parseIp(e.address));
  } catch {
    // Not an address we can normalise: print it as given.
  }
  return e.family === 6 ? `[${address}]:${e.port}` : `${address}:${e.port}`;
}

/**
 * A string identifying an endpoint, for maps and equality. Cheap (no parsing): it assumes the
 * address is canonical, as `parseEndpoint` and the socket layer produce it.
 */
export function endpointKey(e: Endpoint): string {
  return e.family === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
