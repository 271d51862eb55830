/**
 * Processing the acknowledgment field of a segment on a synchronized connection
 * (RFC 9293 §3.10.7.4 fifth step): RFC 5961 §5 ACK validation, SACK scoreboard updates
 * (RFC 2018), RTT samples (RFC 6298, RFC 7323 §4), window updates, duplicate-ACK counting and
 * fast retransmit / recovery (RFC 5681 §3.2, RFC 6582 NewReno, RFC 6675 SACK recovery).
 */

import { challengeAck, retransmit } from "./conn-output.js";
import { armLossProbe, lossProbeAcked } from "./conn-tlp.js";
import type { Connection } from "./connection.js";
import { CHALLENGE_ACK_INTERVAL_MS, FIN_WAIT_2_MS } from "./constants.js";
import { DUP_THRESH } from "./sack.js";
import { FIN, type Segment, SYN } from "./segment.js";
import { seqDiff, seqLe, seqLt } from "./seq.js";

/** Outcome of ACK processing: go on, drop the segment, or the connection is gone (LAST_ACK done). */
export type AckResult = "ok" | "drop" | "closed";

function recordSack(c: Connection, seg: Segment): boolean {
  let added = false;
  const unaSeq = c.seqOf(c.unaOff);
  for (let i = 0; i < seg.sackCount; i++) {
    let l = c.unaOff + seqDiff(seg.sack[2 * i], unaSeq);
    let r = c.unaOff + seqDiff(seg.sack[2 * i + 1], unaSeq);
    if (l < c.unaOff) l = c.unaOff;
    if (r > c.maxOff) r = c.maxOff;
    if (l < r && c.sack.add(l, r)) added = true;
  }
  return added;
}

function sampleRtt(c: Connection, seg: Segment, ackOff: number, now: number): void {
  if (c.tsOk && seg.hasTimestamp && seg.tsEcr !== 0) {
    const r = seqDiff((Math.floor(now) + c.tsOffset) >>> 0, seg.tsEcr);
    // RFC 7323 Appendix G: one sample per ACK, weighted by the segments it covers.
    const outstanding = Math.ceil((c.maxOff - c.unaOff) / c.mss);
    if (r >= 0 && r < 3_600_000) c.rtt.sample(r, Math.max(1, Math.ceil(outstanding / 2)));
  } else if (c.rttOff >= 0 && ackOff >= c.rttOff) {
    c.rtt.sample(now - c.rttStart);
    c.rttOff = -1;
  }
}

/** Enters fast recovery (RFC 6675 §5 / RFC 6582 §3.2 step 2) and retransmits SND.UNA. */
function enterRecovery(c: Connection, now: number): void {
  c.inRecovery = true;
  c.host.stats.fastRecoveries++;
  c.recoverOff = c.maxOff;
  c.cc.onLoss(now, c.nxtOff - c.unaOff);
  const end = Math.min(c.unaOff + c.mss, c.sack.nextSackedAbove(c.unaOff));
  retransmit(c, c.unaOff, end, now);
  c.highRxt = end;
  c.rttOff = -1;
  if (!c.sackOk) c.cc.cwnd += DUP_THRESH * c.mss; // RFC 5681 §3.2 step 4: inflate
}

/** An ACK that moves SND.UNA forward. */
function newAck(c: Connection, seg: Segment, ackOff: number, now: number): AckResult {
  const acked = ackOff - c.unaOff;
  const prevFlight = c.nxtOff - c.unaOff;
  const dataAcked = Math.min(ackOff, c.dataEnd) - c.bufStart;
  if (dataAcked > 0) c.sendBuf.consume(dataAcked);
  sampleRtt(c, seg, ackOff, now);
  c.rtt.backoff = 0;
  c.retries = 0;
  c.unaOff = ackOff;
  if (c.nxtOff < ackOff) c.nxtOff = ackOff;
  c.sack.ackTo(ackOff);
  if (c.inRecovery) {
    if (ackOff >= c.recoverOff) {
      // Full ACK (RFC 6582 §3.2 step 3): deflate to ssthresh.
      c.inRecovery = false;
      c.cc.cwnd = c.cc.ssthresh;
      c.dupAcks = 0;
    } else {
      if (c.highRxt < ackOff) c.highRxt = ackOff;
      if (!c.sackOk) {
        // Partial ACK (RFC 6582 §3.2 step 4): retransmit the next hole, deflate.
        retransmit(c, ackOff, ackOff + c.mss, now);
        c.highRxt = ackOff + c.mss;
        c.cc.cwnd = Math.max(c.cc.cwnd - acked + (acked >= c.mss ? c.mss : 0), c.mss);
      }
    }
  } else {
    c.dupAcks = 0;
    // Grow only while the window was the limit (RFC 7661 spirit; Linux is_cwnd_limited).
    if (2 * prevFlight >= c.cc.cwnd) c.cc.onAck(acked, now, c.rtt.srtt);
  }
  // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else restart it.
  lossProbeAcked(c, seg, ackOff, now);
  if (c.unaOff >= c.maxOff) {
    c.rtxAt = -1;
    c.tlpAt = -1;
  } else {
    c.rtxAt = now + c.rtt.rto;
    armLossProbe(c, now);
  }
  c.persisting = false;
  c.host.schedule(c);
  if (c.finOff >= 0 && ackOff > c.finOff) {
    switch (c.state) {
      case "FIN_WAIT_1":
        c.state = "FIN_WAIT_2";
        if (c.orphan) {
          c.closeAt = now + FIN_WAIT_2_MS;
          c.host.schedule(c);
        }
        break;
      case "CLOSING":
        c.enterTimeWait(now);
        break;
      case "LAST_ACK":
        c.finish(undefined);
        return "closed";
    }
  }
  if (c.wantWritable && c.writableSpace > 0) {
    c.wantWritable = false;
    c.host.emit(c, "writable");
  }
  return "ok";
}

/** Processes SEG.ACK on a synchronized connection. */
export function processAck(c: Connection, seg: Segment, now: number): AckResult {
  const ackOff = c.unaOff + seqDiff(seg.ack, c.seqOf(c.unaOff));
  if (ackOff > c.maxOff) {
    // Acknowledges something not yet sent (RFC 9293: ACK and drop).
    challengeAck(c, now, CHALLENGE_ACK_INTERVAL_MS);
    return "drop";
  }
  if (ackOff < c.unaOff - Math.max(c.maxSndWnd, 1)) {
    // RFC 5961 §5.2: older than the largest window ever seen → challenge ACK.
    challengeAck(c, now, CHALLENGE_ACK_INTERVAL_MS);
    return "drop";
  }
  const newSack = c.sackOk && seg.sackCount > 0 && recordSack(c, seg);
  const wnd = seg.window * 2 ** c.sndWscale;
  const windowChanged = wnd !== c.sndWnd;
  let result: AckResult = "ok";
  if (ackOff > c.unaOff) {
    result = newAck(c, seg, ackOff, now);
    if (result === "closed") return result;
  } else if (
    ackOff === c.unaOff &&
    c.nxtOff > c.unaOff &&
    ((seg.payload.length === 0 && !(seg.flags & (SYN | FIN)) && !windowChanged) || newSack)
  ) {
    // Duplicate ACK (RFC 5681 §2; RFC 6675 counts ACKs carrying new SACK information).
    c.dupAcks++;
    if (!c.inRecovery) {
      const lost = c.sackOk && c.sack.lossEdge(c.mss) > c.unaOff;
      if ((c.dupAcks >= DUP_THRESH || lost) && c.unaOff >= c.recoverOff) enterRecovery(c, now);
    } else if (!c.sackOk) {
      c.cc.cwnd += c.mss; // RFC 5681 §3.2 step 5
    }
  }
  // Window update (RFC 9293 §3.10.7.4: only from a segment newer than the last one used).
  if (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqLe(c.sndWl2, seg.ack))) {
    c.sndWnd = wnd;
    if (wnd > c.maxSndWnd) c.maxSndWnd = wnd;
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    if (wnd > 0 && c.persisting) {
      c.persisting = false;
      c.rtxAt = -1;
      c.retries = 0;
      c.rtt.backoff = 0;
    }
  }
  return result;
}
