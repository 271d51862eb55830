/** The relay's counters and their Prometheus text (exposition format 0.0.4). */
import type { StunServerStats } from "../nat/stun-server.js";

export interface RelayStats {
  /** Datagrams and bytes forwarded, and the frames (batches) that carried them. */
  packets: number;
  frames: number;
  bytes: number;
  /** Connections admitted, and closed for sending nothing past the idle timeout. */
  admitted: number;
  closedIdle: number;
  /** Connections refused, per reason. */
  refused: Record<string, number>;
  dropped: { rateLimited: number; noPeer: number; backlog: number; malformed: number };
}

export function newRelayStats(): RelayStats {
  return {
    packets: 0,
    frames: 0,
    bytes: 0,
    admitted: 0,
    closedIdle: 0,
    refused: {},
    dropped: { rateLimited: 0, noPeer: 0, backlog: 0, malformed: 0 },
  };
}

export function renderRelayMetrics(
  s: RelayStats,
  clients: number,
  stun: StunServerStats | undefined,
): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, rows: Array<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) lines.push(`${name}${labels} ${v}`);
  };
  metric("wirespan_relay_clients", "gauge", "Admitted nodes connected.", [["", clients]]);
  metric("wirespan_relay_forwarded_packets_total", "counter", "Datagrams forwarded.", [
    ["", s.packets],
  ]);
  metric("wirespan_relay_forwarded_bytes_total", "counter", "Datagram bytes forwarded.", [
    ["", s.bytes],
  ]);
  metric("wirespan_relay_forwarded_frames_total", "counter", "Batches (messages) forwarded.", [
    ["", s.frames],
  ]);
  metric("wirespan_relay_admitted_total", "counter", "Connections admitted.", [["", s.admitted]]);
  metric("wirespan_relay_closed_idle_total", "counter", "Connections closed as idle.", [
    ["", s.closedIdle],
  ]);
  metric(
    "wirespan_relay_refused_total",
    "counter",
    "Connections refused.",
    Object.entries(s.refused).map(([k, v]) => [`{reason="${k}"}`, v]),
  );
  metric(
    "wirespan_relay_dropped_total",
    "counter",
    "Datagrams dropped.",
    Object.entries(s.dropped).map(([k, v]) => [`{reason="${k}"}`, v]),
  );
  if (stun) {
    metric("wirespan_stun_requests_total", "counter", "STUN Binding requests answered.", [
      ["", stun.requests],
    ]);
    metric("wirespan_stun_dropped_total", "counter", "Datagrams that were not Binding requests.", [
      ["", stun.dropped],
    ]);
  }
  return `${lines.join("\n")}\n`;
}
