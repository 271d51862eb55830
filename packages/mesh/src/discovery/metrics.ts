import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { formatHostPort } from "./listen-address.js";
import type { RegistryStats } from "./registry.js";

/** Counters of the discovery service; gauges come from the registry when read. */
export interface DiscoveryCounters {
  /** Requests accepted per RPC method name. */
  requests: Record<string, number>;
  /** Requests refused, per gRPC status code name (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, …). */
  refused: Record<string, number>;
  /** Hello calls per client_version (label values capped; the rest counted as "other"). */
  hellos: Record<string, number>;
  /** Watchers ended with ABORTED because their queue overflowed. */
  watchersAborted: number;
  /** Changes that replaced an older change of the same affiliate waiting for a slow watcher. */
  watchCoalesced: number;
  snapshotsWritten: number;
  snapshotErrors: number;
}

export interface DiscoveryMetrics extends RegistryStats, DiscoveryCounters {
  /** Watch calls still open at the transport, including aborted ones still draining. */
  watchStreams: number;
  /** Affiliates and endpoints removed by expiry. */
  expiredAffiliates: number;
  expiredEndpoints: number;
}

const VERSION_LABELS_MAX = 64;

export function newCounters(): DiscoveryCounters {
  return {
    requests: {},
    refused: {},
    hellos: {},
    watchersAborted: 0,
    watchCoalesced: 0,
    snapshotsWritten: 0,
    snapshotErrors: 0,
  };
}

export function countInto(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}

/** Client versions are caller-chosen strings: sanitise them and cap how many distinct ones exist. */
export function countHello(counters: DiscoveryCounters, clientVersion: string | undefined): void {
  let label = (clientVersion ?? "").replace(/[^\w.+-]/g, "_").slice(0, 64) || "unknown";
  if (!(label in counters.hellos) && Object.keys(counters.hellos).length >= VERSION_LABELS_MAX) {
    label = "other";
  }
  countInto(counters.hellos, label);
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(m: DiscoveryMetrics): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  };
  const counter = (name: string, help: string, label: string, table: Record<string, number>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const [key, value] of Object.entries(table))
      lines.push(`${name}{${label}="${key}"} ${value}`);
  };
  gauge("wirespan_discovery_clusters", "Clusters held.", m.clusters);
  gauge("wirespan_discovery_affiliates", "Affiliates held.", m.affiliates);
  gauge("wirespan_discovery_endpoints", "Affiliate endpoints held.", m.endpoints);
  gauge("wirespan_discovery_watchers", "Subscribed watchers.", m.watchers);
  gauge(
    "wirespan_discovery_watch_streams",
    "Watch calls open, draining ones included.",
    m.watchStreams,
  );
  counter("wirespan_discovery_requests_total", "Requests accepted.", "method", m.requests);
  counter("wirespan_discovery_refused_total", "Requests refused.", "code", m.refused);
  counter("wirespan_discovery_hello_total", "Hello calls.", "client_version", m.hellos);
  const total = (name: string, help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
  };
  total("wirespan_discovery_watchers_aborted_total", "Slow watchers aborted.", m.watchersAborted);
  total(
    "wirespan_discovery_watch_coalesced_total",
    "Changes that replaced an older one of the same affiliate waiting for a slow watcher.",
    m.watchCoalesced,
  );
  total("wirespan_discovery_expired_affiliates_total", "Affiliates expired.", m.expiredAffiliates);
  total("wirespan_discovery_expired_endpoints_total", "Endpoints expired.", m.expiredEndpoints);
  total("wirespan_discovery_snapshots_total", "Snapshots written.", m.snapshotsWritten);
  total("wirespan_discovery_snapshot_errors_total", "Snapshot writes failed.", m.snapshotErrors);
  return `${lines.join("\n")}\n`;
}

/** Serve GET /metrics on host:port; resolves to the server and the address actually bound. */
export async function serveMetrics(
  host: string,
  port: number,
  read: () => DiscoveryMetrics,
): Promise<{ server: Server; address: string }> {
  const server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { "content-type": "text/plain; version=0.0.4" })
      .end(renderPrometheus(read()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return { server, address: formatHostPort(host, bound.port) };
}
