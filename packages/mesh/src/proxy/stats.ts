/**
 * Counters of the proxy front-ends, rendered in the Prometheus text exposition format 0.0.4.
 * Every refused or malformed request is counted here (by front-end and reason) instead of being
 * thrown: a hostile client is a number, never a crash.
 */

export type FrontEnd =
  | "socks5"
  | "http"
  | "tcp_client"
  | "tcp_server"
  | "udp_client"
  | "udp_server";

export class ProxyStats {
  /** Connections (TCP) or sessions (UDP) accepted, per front-end. */
  readonly accepted = new Map<FrontEnd, number>();
  /** Currently open connections or sessions, per front-end. */
  readonly active = new Map<FrontEnd, number>();
  /** Requests answered with an error, per front-end and reason. */
  readonly refused = new Map<string, number>();
  /** Bytes carried from the client toward the target and back. */
  bytesUp = 0;
  bytesDown = 0;

  open(fe: FrontEnd): () => void {
    this.accepted.set(fe, (this.accepted.get(fe) ?? 0) + 1);
    this.active.set(fe, (this.active.get(fe) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active.set(fe, (this.active.get(fe) ?? 1) - 1);
    };
  }

  /** Counts one refusal; `reason` is one of a fixed set of words chosen by the front-end. */
  refuse(fe: FrontEnd, reason: string): void {
    const key = `${fe}\u0000${reason}`;
    this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
  }

  refusedCount(fe: FrontEnd, reason?: string): number {
    if (reason !== undefined) return this.refused.get(`${fe}\u0000${reason}`) ?? 0;
    let n = 0;
    for (const [k, v] of this.refused) if (k.startsWith(`${fe}\u0000`)) n += v;
    return n;
  }
}

/** One metric family in the text format: HELP, TYPE and one line per labelled sample. */
export function metricFamily(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: ReadonlyArray<readonly [labels: Record<string, string>, value: number]>,
): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`))}"`)
      .join(",");
    lines.push(`${name}${l ? `{${l}}` : ""} ${value}`);
  }
  return `${lines.join("\n")}\n`;
}

export function renderProxyStats(s: ProxyStats): string {
  const per = (m: Map<FrontEnd, number>) => [...m].map(([fe, v]) => [{ frontend: fe }, v] as const);
  const refused = [...s.refused].map(([k, v]) => {
    const [fe, reason] = k.split("\u0000");
    return [{ frontend: fe, reason }, v] as const;
  });
  return [
    metricFamily(
      "wirespan_proxy_connections_total",
      "counter",
      "Connections or UDP sessions accepted.",
      per(s.accepted),
    ),
    metricFamily(
      "wirespan_proxy_connections_active",
      "gauge",
      "Connections or UDP sessions open now.",
      per(s.active),
    ),
    metricFamily(
      "wirespan_proxy_refused_total",
      "counter",
      "Requests refused or malformed, by reason.",
      refused,
    ),
    metricFamily("wirespan_proxy_bytes_total", "counter", "Payload bytes carried.", [
      [{ direction: "up" }, s.bytesUp],
      [{ direction: "down" }, s.bytesDown],
    ]),
  ].join("");
}
