/**
 * Tail loss probe (RFC 8985 §7, TLP without RACK): when the last segments of a flight are lost
 * no duplicate ACKs come back and only the RTO (≥ 200 ms, often 1 s) would repair them. After
 * 2·SRTT without an ACK, a probe — one new segment if the windows allow, else the last one
 * again — draws an ACK whose SACK blocks start fast recovery, or which repairs the loss outright.
 * As Linux does, only on SACK connections, outside recovery, one probe per episode.
 */
import { retransmit, sendData } from "./conn-output.js";
import type { Connection } from "./connection.js";
import type { Segment } from "./segment.js";
import { seqLt } from "./seq.js";

/** RFC 8985 §7.2 WCDelAckT: the peer may hold the ACK of a lone segment this long. */
const WORST_CASE_DELACK_MS = 200;
/** Floor of the probe timeout (a few timer ticks, as Linux's TCP_TIMEOUT_MIN spirit). */
const MIN_PTO_MS = 10;

/** (Re)arms the probe timeout after new data went out or an ACK advanced SND.UNA (§7.2). */
export function armLossProbe(c: Connection, now: number): void {
  const s = c.state;
  if (
    !c.sackOk ||
    c.inRecovery ||
    c.persisting ||
    c.retries > 0 ||
    c.tlpHigh >= 0 ||
    !c.rtt.sampled ||
    c.maxOff <= c.unaOff ||
    !(s === "ESTABLISHED" || s === "CLOSE_WAIT" || s === "FIN_WAIT_1" || s === "LAST_ACK")
  ) {
    c.tlpAt = -1;
    return;
  }
  let pto = 2 * c.rtt.srtt;
  if (c.maxOff - c.unaOff <= c.mss) pto += WORST_CASE_DELACK_MS;
  const at = now + Math.max(pto, MIN_PTO_MS);
  // The RTO comes first anyway: no probe (§7.2 "if the RTO would fire earlier").
  c.tlpAt = c.rtxAt >= 0 && c.rtxAt <= at ? -1 : at;
  c.host.schedule(c);
}

/** PTO expiry (§7.3): send the probe, then wait for the RTO, not another PTO. */
export function onLossProbeTimer(c: Connection, now: number): void {
  c.tlpAt = -1;
  if (c.maxOff <= c.unaOff || c.inRecovery || c.persisting || c.tlpHigh >= 0) return;
  c.host.stats.lossProbes++;
  const before = c.maxOff;
  if (c.dataEnd > c.nxtOff && c.nxtOff === c.maxOff) {
    // New data, at most one segment: let the congestion window pass exactly one more.
    const cwnd = c.cc.cwnd;
    c.cc.cwnd = c.nxtOff - c.unaOff + c.mss;
    sendData(c, now);
    c.cc.cwnd = cwnd;
  }
  c.tlpRetransmitted = c.maxOff === before;
  if (c.tlpRetransmitted) retransmit(c, Math.max(c.unaOff, c.maxOff - c.mss), c.maxOff, now);
  c.tlpHigh = c.maxOff;
  c.tlpAt = -1;
  c.rtxAt = now + c.rtt.rto;
  c.host.schedule(c);
}

/**
 * Judges a probe episode on the ACKs that reach its end (§7.4, as Linux's
 * tcp_process_tlp_ack): a probe of new data, or a retransmission the peer reports as a
 * duplicate (a DSACK, RFC 2883 — the original arrived too), means no loss; an ACK beyond the
 * probe's end without that DSACK means the original was lost and the probe repaired it — the
 * congestion response of a fast recovery is due (RFC 8985 §7.4.2, RFC 5681 §3.2). An ACK
 * exactly at the end waits for the DSACK that may follow.
 */
export function lossProbeAcked(c: Connection, seg: Segment, ackOff: number, now: number): void {
  if (c.tlpHigh < 0 || ackOff < c.tlpHigh) return;
  const dsack = seg.sackCount > 0 && seqLt(seg.sack[0], seg.ack);
  if (!c.tlpRetransmitted || dsack) {
    c.tlpHigh = -1;
  } else if (ackOff > c.tlpHigh) {
    c.cc.onLoss(now, c.maxOff - c.unaOff);
    c.host.stats.lossProbeRecoveries++;
    c.tlpHigh = -1;
  }
}
