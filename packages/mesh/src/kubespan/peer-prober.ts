/**
 * Sends the controller's liveness probes (wirespan extension, constants.ts / peer-status.ts): an
 * echo request (probe.ts) from our KubeSpan address to the peer's one, into the tunnel. Only
 * when the peer's KubeSpan address routes to it; otherwise the probe rule stays off for that
 * peer (Talos timings only).
 */
import type { Logger } from "../logger.js";
import type { PeerEntry } from "./peer-reconciler.js";
import { probePacket } from "./probe.js";
import { routesTo } from "./routing-targets.js";

export class PeerProber {
  /** Sequence number of the next probe (probe.ts). */
  private seq = 0;

  constructor(
    /** Our KubeSpan address, the probe's source. */
    private readonly address: string,
    /** Injects a packet into the tunnel as if read from the TUN (Device.sendToTunnel). */
    private readonly send: (packet: Uint8Array) => boolean,
    private readonly logger: Logger,
  ) {}

  probe(key: string, entry: PeerEntry, now: number): void {
    const { spec, status } = entry;
    if (!spec.address || !routesTo(spec.allowedIPs, spec.address)) return;
    const first = status.probeSentAt === null;
    const pkt = probePacket(this.address, spec.address, this.seq++);
    if (!this.send(pkt)) return;
    status.recordProbe(now);
    if (first) {
      const since = Math.max(status.lastReceiveChange ?? 0, status.lastHandshakeTime ?? 0);
      this.logger.verbose(
        `peer ${spec.label || key}: silent for ${Math.round((now - since) / 1000)} s, probing`,
      );
    } else if (status.state === "up") {
      this.logger.verbose(`peer ${spec.label || key}: probe unanswered, probing again`);
    }
  }
}
