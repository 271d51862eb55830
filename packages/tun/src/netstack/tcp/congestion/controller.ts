/**
 * One interface for the congestion controllers (RFC 5681 NewReno, RFC 9438 CUBIC). Windows are
 * in bytes; the connection owns loss detection and recovery (RFC 6675 / RFC 6582) and tells the
 * controller what happened.
 */
import type { CongestionControlName } from "../types.js";

export interface CongestionControl {
  readonly name: CongestionControlName;
  cwnd: number;
  ssthresh: number;
  /** New data acknowledged outside recovery while the sender was cwnd-limited. */
  onAck(acked: number, now: number, srtt: number): void;
  /** Loss detected by duplicate ACKs or SACK: recovery starts. */
  onLoss(now: number, flight: number): void;
  /** The retransmission timer expired. */
  onTimeout(now: number, flight: number): void;
  /** The MSS changed (PMTU): rescale. */
  setMss(mss: number): void;
}

/** RFC 6928 initial window: min(10·MSS, max(2·MSS, 14600)). */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}
