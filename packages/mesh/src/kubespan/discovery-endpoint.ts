/**
 * Discovery service endpoint URLs, normalised as Talos does (reference/kubespan.md §1.1):
 * `https://host[:port]/` → TLS to host:443 by default; `http://host[:port]` → plain gRPC to
 * host:80 by default.
 */

export interface DiscoveryTarget {
  /** gRPC target `host:port` (IPv6 hosts in brackets). */
  readonly target: string;
  /** True for `https://`: TLS with the system roots. */
  readonly tls: boolean;
}

/** Parses a discovery endpoint URL; throws a clear error for anything else. */
export function parseDiscoveryEndpoint(endpoint: string): DiscoveryTarget {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`invalid discovery endpoint ${JSON.stringify(endpoint)}: not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(
      `invalid discovery endpoint ${JSON.stringify(endpoint)}: scheme must be http:// or https://`,
    );
  }
  if (
    url.username ||
    url.password ||
    url.search ||
    url.hash ||
    (url.pathname && url.pathname !== "/")
  ) {
    throw new Error(
      `invalid discovery endpoint ${JSON.stringify(endpoint)}: only scheme://host[:port]`,
    );
  }
  const tls = url.protocol === "https:";
  const port = url.port || (tls ? "443" : "80");
  return { target: `${url.hostname}:${port}`, tls };
}
