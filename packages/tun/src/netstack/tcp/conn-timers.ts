/**
 * Timer expiry for one connection. Each timer is an absolute deadline judged against its own
 * time (google/gvisor#9778): retransmission (RFC 6298 §5.4–5.7, SYN retries), persist
 * (RFC 9293 §3.8.6.1), delayed ACK, keep-alive (RFC 1122 §4.2.3.6), TIME_WAIT / FIN_WAIT_2.
 */
import { ackNow, sendData, sendKeepAlive, sendSyn, sendWindowProbe } from "./conn-output.js";
import { onLossProbeTimer } from "./conn-tlp.js";
import type { Connection } from "./connection.js";
import {
  DATA_RETRIES,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_PROBES,
  PERSIST_MAX_MS,
  SYN_RETRIES,
  SYNACK_RETRIES,
} from "./constants.js";
import { TcpError } from "./types.js";

function timedOut(c: Connection): TcpError {
  return c.softError ?? new TcpError("ETIMEDOUT", "connection timed out");
}

function onRetransmitTimer(c: Connection, now: number): void {
  c.rtxAt = -1;
  switch (c.state) {
    case "SYN_SENT":
    case "SYN_RECEIVED": {
      const max = c.state === "SYN_SENT" ? SYN_RETRIES : SYNACK_RETRIES;
      if (c.retries >= max) {
        c.finish(timedOut(c));
        return;
      }
      c.retries++;
      c.rtt.backoff++;
      c.rtt.synRetransmitted();
      sendSyn(c, now);
      return;
    }
    case "CLOSED":
    case "TIME_WAIT":
      return;
  }
  if (c.persisting) {
    if (c.retries >= DATA_RETRIES) {
      c.finish(timedOut(c));
      return;
    }
    c.retries++;
    if (c.unaOff + c.sndWnd > c.nxtOff) {
      // A small window is open: the SWS override timeout sends what fits (RFC 9293 §3.8.6.2.1).
      c.forceRunt = true;
      sendData(c, now);
      c.forceRunt = false;
      if (c.rtxAt >= 0) return;
    } else sendWindowProbe(c, now);
    c.rtt.backoff++;
    c.rtxAt = now + Math.min(c.rtt.rto, PERSIST_MAX_MS);
    return;
  }
  if (c.maxOff <= c.unaOff) return;
  if (c.retries >= DATA_RETRIES) {
    c.finish(timedOut(c));
    return;
  }
  c.retries++;
  c.host.stats.timeouts++;
  c.tlpAt = c.tlpHigh = -1; // RTO recovery: the probe episode, if any, is over
  // RFC 5681 §3.1 eqn 4 and RFC 6675 §5.1: collapse the window, forget SACK state, go back N.
  if (c.retries === 1) c.cc.onTimeout(now, c.maxOff - c.unaOff);
  else c.cc.cwnd = c.mss;
  c.rtt.backoff++;
  c.sack.clear();
  c.inRecovery = false;
  c.recoverOff = c.maxOff;
  c.dupAcks = 0;
  c.rttOff = -1;
  c.nxtOff = c.unaOff;
  sendData(c, now);
}

function onKeepAliveTimer(c: Connection, now: number): void {
  const s = c.state;
  if (!c.keepAlive || !(s === "ESTABLISHED" || s === "CLOSE_WAIT" || s === "FIN_WAIT_2")) {
    c.keepaliveAt = -1;
    return;
  }
  if (c.keepaliveProbes === 0 && now - c.lastRecvAt < c.keepIdleMs) {
    c.keepaliveAt = c.lastRecvAt + c.keepIdleMs;
    return;
  }
  if (c.maxOff > c.unaOff) {
    // Data outstanding: the retransmission timer watches the peer.
    c.keepaliveAt = now + c.keepIdleMs;
    return;
  }
  if (c.keepaliveProbes >= KEEPALIVE_PROBES) {
    c.finish(timedOut(c));
    return;
  }
  c.keepaliveProbes++;
  sendKeepAlive(c, now);
  c.keepaliveAt = now + KEEPALIVE_INTERVAL_MS;
}

/** Runs every expired timer of `c`. */
export function connectionTimers(c: Connection, now: number): void {
  if (c.closeAt >= 0 && now >= c.closeAt) {
    c.finish(undefined);
    return;
  }
  if (c.delackAt >= 0 && now >= c.delackAt) {
    c.delackAt = -1;
    if (c.synchronized) ackNow(c, now);
  }
  if (c.rtxAt >= 0 && now >= c.rtxAt) onRetransmitTimer(c, now);
  else if (c.tlpAt >= 0 && now >= c.tlpAt) onLossProbeTimer(c, now);
  if (c.state === "CLOSED") return;
  if (c.keepaliveAt >= 0 && now >= c.keepaliveAt) onKeepAliveTimer(c, now);
}
