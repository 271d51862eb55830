/**
 * Continuous traffic through the mesh for the whole soak: a ping every second from every node to
 * every other node's KubeSpan address (payload marked with {@link PingMarker}), and a few TCP
 * streams (traffic-stream.ts, marked with its StreamMarker). The marks are what the cleartext
 * check looks for on the bridge; the replies tell when each pair carries traffic again after a
 * fault (the recovery check's data-plane half).
 */
import { join } from "node:path";
import type { Daemon } from "../support/netns.js";
import type { SoakMesh } from "./mesh.js";

/** Text in every ping's payload (`ping -p` repeats it through the padding). */
export const PingMarker = "WSSOAK-PING";
const StreamPort = 7777;
const StreamRate = 32 * 1024;
const streamTool = join(import.meta.dirname, "traffic-stream.ts");

export interface StreamStats {
  readonly from: number;
  readonly to: number;
  /** Bytes the receiving end has counted. */
  received: number;
  /** Reconnections of the sending end (each follows a stall or an error). */
  reconnects: number;
  /** When (performance.now) the receiving end last counted more bytes. */
  lastProgressAt: number;
}

export class Traffic {
  /** `from→to` → moment (performance.now) of the last echo reply. */
  private readonly lastReply = new Map<string, number>();
  private readonly sent = new Map<string, number>();
  private readonly replies = new Map<string, number>();
  readonly streams: StreamStats[] = [];
  private readonly procs = new Set<Daemon>();
  private stopped = false;

  constructor(private readonly mesh: SoakMesh) {}

  start(streams: readonly (readonly [number, number])[]): void {
    for (const i of this.mesh.nodes) {
      for (const j of this.mesh.nodes) if (i !== j) this.ping(i, j);
    }
    for (const [from, to] of streams) this.stream(from, to);
  }

  /** Last reply from `to` seen by `from`'s pinger (performance.now), or -Infinity. */
  lastReplyAt(from: number, to: number): number {
    return this.lastReply.get(`${from}→${to}`) ?? Number.NEGATIVE_INFINITY;
  }

  /** Echo requests sent and replies received, over all pairs. */
  totals(): { sent: number; replies: number } {
    let sent = 0;
    let replies = 0;
    for (const v of this.sent.values()) sent += v;
    for (const v of this.replies.values()) replies += v;
    return { sent, replies };
  }

  /** Runs `argv` in node `i`'s namespace for the whole soak; restarted if it ever exits. */
  private keep(i: number, argv: readonly string[], onLine: (line: string) => void): void {
    if (this.stopped) return;
    const d = this.mesh.lab.spawn(this.mesh.nodeNs(i), argv, process.env, 4096);
    this.procs.add(d);
    let partial = "";
    d.child.stdout?.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) onLine(l);
    });
    void d.exited.then(() => {
      this.procs.delete(d);
      if (!this.stopped) setTimeout(() => this.keep(i, argv, onLine), 2_000);
    });
  }

  private ping(i: number, j: number): void {
    const key = `${i}→${j}`;
    const pattern = Buffer.from(PingMarker).toString("hex");
    const ula = this.mesh.ulas.get(j) as string;
    // stdbuf: one line per reply as it happens, not a pipe-sized block later.
    const argv = [
      "stdbuf",
      "-oL",
      "ping",
      "-6",
      "-n",
      "-O",
      "-i",
      "1",
      "-s",
      "120",
      "-p",
      pattern,
      ula,
    ];
    this.keep(i, argv, (line) => {
      const seq = /icmp_seq=(\d+)/.exec(line);
      if (!seq) return;
      this.sent.set(key, Math.max(this.sent.get(key) ?? 0, Number(seq[1])));
      if (line.includes("bytes from")) {
        this.lastReply.set(key, performance.now());
        this.replies.set(key, (this.replies.get(key) ?? 0) + 1);
      }
    });
  }

  private stream(from: number, to: number): void {
    const stats: StreamStats = {
      from,
      to,
      received: 0,
      reconnects: 0,
      lastProgressAt: Number.NEGATIVE_INFINITY,
    };
    this.streams.push(stats);
    const tsx = ["node", "--import", "tsx", streamTool];
    this.keep(to, [...tsx, "server", String(StreamPort)], (line) => {
      const m = /^rx (\d+)/.exec(line);
      if (m && Number(m[1]) > stats.received) {
        stats.received = Number(m[1]);
        stats.lastProgressAt = performance.now();
      }
    });
    const ula = this.mesh.ulas.get(to) as string;
    this.keep(from, [...tsx, "client", ula, String(StreamPort), String(StreamRate)], (line) => {
      if (line.startsWith("no ack")) stats.reconnects++;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const d of this.procs) await this.mesh.lab.kill(d);
  }
}
