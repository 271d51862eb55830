/**
 * NewReno congestion control (RFC 5681 §3.1, RFC 6582): slow start with appropriate byte
 * counting (L = 1 SMSS, RFC 3465), congestion avoidance of one SMSS per window, halving on loss.
 */
import type { CongestionControl } from "./controller.js";
import { initialWindow } from "./controller.js";

export class NewReno implements CongestionControl {
  readonly name = "newreno" as const;
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  private ackedInCa = 0;

  constructor(private mss: number) {
    this.cwnd = initialWindow(mss);
  }

  onAck(acked: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, this.mss);
      return;
    }
    this.ackedInCa += acked;
    if (this.ackedInCa >= this.cwnd) {
      this.ackedInCa -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  onLoss(_now: number, flight: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.ackedInCa = 0;
  }

  onTimeout(_now: number, flight: number): void {
    this.ssthresh = Math.max(flight / 2, 2 * this.mss);
    this.cwnd = this.mss;
    this.ackedInCa = 0;
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = Math.max(this.cwnd, mss);
  }
}
