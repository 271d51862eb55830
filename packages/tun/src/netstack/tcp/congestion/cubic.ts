/**
 * CUBIC congestion control (RFC 9438) in bytes, windows computed in segments:
 * W_cubic(t) = C·(t − K)³ + W_max with C = 0.4, β = 0.7 (§4.1–4.2); the Reno-friendly estimate
 * W_est with α = 3(1−β)/(1+β) until W_est ≥ cwnd_prior, then 1 (§4.3); target clamped to
 * [cwnd, 1.5·cwnd] (§4.2); fast convergence (§4.7); timeouts per §4.8.
 */
import type { CongestionControl } from "./controller.js";
import { initialWindow } from "./controller.js";

const C = 0.4;
const BETA = 0.7;
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

export class Cubic implements CongestionControl {
  readonly name = "cubic" as const;
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  /** Window before the last reduction, in segments. */
  private wMax = 0;
  /** cwnd before the last reduction (segments), for the α switch of §4.3. */
  private cwndPrior = 0;
  private k = 0;
  /** Start of the current congestion-avoidance epoch (ms), -1 = none. */
  private epochStart = -1;
  private wEst = 0;

  constructor(
    private mss: number,
    /** §4.7: fast convergence helps competing flows; off for a lone flow. */
    private readonly fastConvergence = true,
  ) {
    this.cwnd = initialWindow(mss);
  }

  onAck(acked: number, now: number, srtt: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, this.mss);
      return;
    }
    const seg = this.cwnd / this.mss;
    if (this.epochStart < 0) {
      this.epochStart = now;
      if (seg < this.wMax) {
        this.k = Math.cbrt((this.wMax - seg) / C);
      } else {
        this.k = 0;
        this.wMax = seg;
      }
      this.wEst = seg;
    }
    const t = (now - this.epochStart + srtt) / 1000;
    let target = C * (t - this.k) ** 3 + this.wMax;
    if (target < seg) target = seg;
    else if (target > 1.5 * seg) target = 1.5 * seg;
    const ackedSeg = acked / this.mss;
    this.wEst += (this.wEst >= this.cwndPrior ? 1 : ALPHA) * (ackedSeg / seg);
    if (target < this.wEst) {
      // Reno-friendly region (§4.3).
      this.cwnd = Math.max(this.cwnd, this.wEst * this.mss);
    } else {
      // Concave/convex region (§4.4, §4.5): (target − cwnd)/cwnd per acknowledged segment.
      this.cwnd += ((target - seg) / seg) * acked;
    }
  }

  private reduce(): number {
    const seg = this.cwnd / this.mss;
    this.cwndPrior = seg;
    this.wMax = this.fastConvergence && seg < this.wMax ? (seg * (1 + BETA)) / 2 : seg;
    this.epochStart = -1;
    return Math.max(this.cwnd * BETA, 2 * this.mss);
  }

  onLoss(): void {
    this.ssthresh = this.reduce();
    this.cwnd = this.ssthresh;
  }

  onTimeout(): void {
    this.ssthresh = this.reduce();
    this.cwnd = this.mss;
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = Math.max(this.cwnd, mss);
  }
}
