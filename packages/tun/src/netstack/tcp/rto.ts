/**
 * Retransmission timeout estimator (RFC 6298) with exponential backoff kept outside the timer,
 * so it survives restarts (smoltcp-rs/smoltcp#1023). Bounds as Linux: 200 ms … 120 s.
 */

export const INITIAL_RTO_MS = 1000;
export const MIN_RTO_MS = 200;
export const MAX_RTO_MS = 120_000;
/** Clock granularity G (ms); our time is in ms. */
const G = 1;

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  private hasSample = false;
  private base = INITIAL_RTO_MS;
  /** Consecutive timeouts; doubles the RTO each (RFC 6298 §5.5). */
  backoff = 0;

  /** Current RTO including backoff. */
  get rto(): number {
    return Math.min(this.base * 2 ** this.backoff, MAX_RTO_MS);
  }

  get sampled(): boolean {
    return this.hasSample;
  }

  /**
   * Adds an RTT sample (ms). `weight` ≥ 1 divides α and β (RFC 7323 Appendix G: with timestamps
   * every ACK is a sample, so each counts for 1/⌈outstanding segments/2⌉).
   */
  sample(r: number, weight = 1): void {
    if (r < 0) return;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      const beta = 0.25 / weight;
      const alpha = 0.125 / weight;
      this.rttvar = (1 - beta) * this.rttvar + beta * Math.abs(this.srtt - r);
      this.srtt = (1 - alpha) * this.srtt + alpha * r;
    }
    this.base = Math.min(
      Math.max(this.srtt + Math.max(G, 4 * this.rttvar), MIN_RTO_MS),
      MAX_RTO_MS,
    );
  }

  /** RFC 6298 §5.7: after a retransmitted SYN, use ≥ 3 s until a sample arrives. */
  synRetransmitted(): void {
    if (!this.hasSample) this.base = 3000;
  }
}
