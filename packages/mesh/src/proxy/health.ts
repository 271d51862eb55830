/**
 * The health endpoint of `wirespan proxy` (wireproxy's `/readyz`, Tailscale's status): `GET
 * /healthz` answers 200 when some peer completed a handshake within REJECT_AFTER_TIME (180 s:
 * its session keys are still usable), else 503; `GET /metrics` gives the proxy counters and the
 * per-peer WireGuard figures in the Prometheus text format. Loopback unless configured otherwise.
 */
import { createServer, type Server } from "node:http";
import { type DeviceSnapshot, parseGet } from "@wirespan/noise/internal";
import type { BindAddress } from "./front-end.js";
import { metricFamily, type ProxyStats, renderProxyStats } from "./stats.js";
import { listenOn, serverPort } from "./transport.js";

/** WireGuard whitepaper §6.1: REJECT_AFTER_TIME. */
const HANDSHAKE_FRESH_S = 180;

export interface HealthSource {
  /** A device's UAPI `get=1` answer (Device.ipcGet). */
  ipcGet(): string;
}

export interface HealthReport {
  readonly healthy: boolean;
  readonly peers: ReadonlyArray<{
    readonly publicKey: string;
    readonly endpoint: string | null;
    /** Seconds since the last handshake; null = never. */
    readonly handshakeAgeS: number | null;
    readonly rxBytes: string;
    readonly txBytes: string;
  }>;
}

export function healthReport(device: HealthSource, nowMs = Date.now()): HealthReport {
  const snap: DeviceSnapshot = parseGet(device.ipcGet());
  const peers = snap.peers.map((p) => ({
    publicKey: Buffer.from(p.publicKey).toString("base64"),
    endpoint: p.endpoint ? `${p.endpoint.address}:${p.endpoint.port}` : null,
    handshakeAgeS:
      p.lastHandshakeNs === 0n
        ? null
        : Math.max(0, nowMs / 1000 - Number(p.lastHandshakeNs / 1_000_000n) / 1000),
    rxBytes: String(p.rxBytes),
    txBytes: String(p.txBytes),
  }));
  return {
    healthy: peers.some((p) => p.handshakeAgeS !== null && p.handshakeAgeS < HANDSHAKE_FRESH_S),
    peers,
  };
}

export function renderHealthMetrics(r: HealthReport): string {
  const label = (p: HealthReport["peers"][number]) => ({ public_key: p.publicKey });
  return [
    metricFamily("wirespan_proxy_healthy", "gauge", "1 when a peer handshake is fresh (< 180 s).", [
      [{}, r.healthy ? 1 : 0],
    ]),
    metricFamily(
      "wirespan_peer_last_handshake_age_seconds",
      "gauge",
      "Seconds since the peer's last handshake (absent: never).",
      r.peers
        .filter((p) => p.handshakeAgeS !== null)
        .map((p) => [label(p), Math.round(p.handshakeAgeS ?? 0)] as const),
    ),
    metricFamily(
      "wirespan_peer_receive_bytes_total",
      "counter",
      "Bytes received from the peer.",
      r.peers.map((p) => [label(p), Number(p.rxBytes)] as const),
    ),
    metricFamily(
      "wirespan_peer_transmit_bytes_total",
      "counter",
      "Bytes sent to the peer.",
      r.peers.map((p) => [label(p), Number(p.txBytes)] as const),
    ),
  ].join("");
}

export class HealthServer {
  private constructor(
    private readonly server: Server,
    readonly address: BindAddress,
  ) {}

  static async start(
    listen: BindAddress,
    device: HealthSource,
    stats: ProxyStats,
  ): Promise<HealthServer> {
    const server = createServer(
      { maxHeaderSize: 8192, headersTimeout: 5_000, requestTimeout: 10_000 },
      (req, res) => {
        const path = (req.url ?? "").split("?")[0];
        if (req.method !== "GET" && req.method !== "HEAD") {
          res.writeHead(405, { allow: "GET, HEAD" }).end();
          return;
        }
        let report: HealthReport;
        try {
          report = healthReport(device);
        } catch (err) {
          res.writeHead(500, { "content-type": "text/plain" }).end(`${String(err)}\n`);
          return;
        }
        if (path === "/healthz" || path === "/readyz") {
          res.writeHead(report.healthy ? 200 : 503, { "content-type": "application/json" });
          res.end(`${JSON.stringify(report)}\n`);
        } else if (path === "/metrics") {
          res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
          res.end(renderProxyStats(stats) + renderHealthMetrics(report));
        } else {
          res.writeHead(404, { "content-type": "text/plain" }).end("try /healthz or /metrics\n");
        }
      },
    );
    await listenOn(server, listen.host, listen.port);
    return new HealthServer(server, { host: listen.host, port: serverPort(server) });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
