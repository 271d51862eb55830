/**
 * Segment arrival for one connection (RFC 9293 §3.10.7.3 SYN-SENT, §3.10.7.4 other states):
 * PAWS (RFC 7323 §5), acceptability, RST and SYN validation with challenge ACKs (RFC 5961),
 * ACK (conn-ack.ts), data into the receive buffer with delayed ACKs (RFC 1122 §4.2.3.2), FIN.
 */
import { processAck } from "./conn-ack.js";
import { ackNow, ackSoon, challengeAck, sendData, sendRst, sendSyn } from "./conn-output.js";
import type { Connection } from "./connection.js";
import {
  CHALLENGE_ACK_INTERVAL_MS,
  DEFAULT_MSS_V4,
  DEFAULT_MSS_V6,
  DELACK_MS,
  MIN_PEER_MSS,
  PAWS_IDLE_MS,
} from "./constants.js";
import { ACK, FIN, RST, type Segment, SYN } from "./segment.js";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "./seq.js";
import { type TcpDropReason, TcpError } from "./types.js";

export type Drop = (reason: TcpDropReason) => void;

/** Out-of-window segments are answered with an ACK at most this often (keep-alive, probes). */
const OOW_ACK_INTERVAL_MS = 20;

/** Applies the options of the peer's SYN (RFC 7323 §1.3, RFC 2018 §2, RFC 9293 §3.7.1). */
export function negotiateSyn(c: Connection, seg: Segment, now: number): void {
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  c.rcvAdvRight = c.rcvNxt;
  c.peerMss =
    seg.mss > 0 ? Math.max(seg.mss, MIN_PEER_MSS) : c.v6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4;
  const f = c.host.features;
  if (seg.wscale >= 0 && f.windowScaling) {
    c.wsOk = true;
    c.sndWscale = seg.wscale;
  } else {
    c.wsOk = false;
    c.sndWscale = 0;
    c.rcvWscale = 0;
  }
  c.sackOk = seg.sackPermitted && f.sack;
  c.tsOk = seg.hasTimestamp && f.timestamps;
  if (c.tsOk) {
    c.tsRecent = seg.tsVal;
    c.tsRecentAt = now;
  }
  c.mss = Math.max(Math.min(c.peerMss, c.mtuMss) - (c.tsOk ? 12 : 0), MIN_PEER_MSS);
}

/** The handshake completed: tell the application, start keep-alive, send what is queued. */
export function becomeEstablished(c: Connection, seg: Segment, now: number): void {
  c.unaOff = 0;
  if (c.nxtOff < 0) c.nxtOff = 0;
  c.state = "ESTABLISHED";
  c.rtxAt = -1;
  c.retries = 0;
  c.rtt.backoff = 0;
  c.sndWnd = seg.flags & SYN ? seg.window : seg.window * 2 ** c.sndWscale;
  c.maxSndWnd = c.sndWnd;
  c.sndWl1 = seg.seq;
  c.sndWl2 = seg.ack;
  c.cc = c.makeCc(c.mss);
  c.lastRecvAt = now;
  if (c.keepAlive) c.keepaliveAt = now + c.keepIdleMs;
  if (c.finOff >= 0) {
    c.state = "FIN_WAIT_1";
    c.finOff = c.dataEnd;
  }
  const listener = c.listener;
  if (listener !== undefined) {
    listener.halfOpen--;
    c.listener = undefined;
    c.acceptBy = listener;
    c.host.emit(c, "accept");
  } else {
    c.host.emit(c, "connected");
  }
  c.host.schedule(c);
}

function synSentInput(c: Connection, seg: Segment, now: number, drop: Drop): void {
  const f = seg.flags;
  if (f & ACK && seg.ack !== c.seqOf(0)) {
    // RFC 9293 §3.10.7.3: unacceptable ACK → RST (unless RST); smoltcp-rs/smoltcp#366.
    if (!(f & RST)) sendRst(c, seg.ack, 0, false);
    drop("bad-ack");
    return;
  }
  if (f & RST) {
    if (f & ACK) c.finish(new TcpError("ECONNREFUSED", "connection refused"));
    else drop("bad-rst");
    return;
  }
  if (!(f & SYN)) {
    drop("state");
    return;
  }
  negotiateSyn(c, seg, now);
  if (f & ACK) {
    if (c.tsOk && seg.tsEcr !== 0 && c.retries === 0) {
      c.rtt.sample(Math.max(0, seqDiff((Math.floor(now) + c.tsOffset) >>> 0, seg.tsEcr)));
    } else if (c.retries === 0) {
      c.rtt.sample(now - c.rttStart);
    }
    becomeEstablished(c, seg, now);
    ackNow(c, now);
    sendData(c, now);
    return;
  }
  // Simultaneous open (RFC 9293 §3.5, MUST-10): SYN-RECEIVED, answer with SYN-ACK.
  c.state = "SYN_RECEIVED";
  sendSyn(c, now);
}

/**
 * RFC 9293 §3.10.7.4 first check: is any of the segment inside the receive window? With a zero
 * window no text is acceptable, but "special allowance should be made to accept valid ACKs,
 * URGs, and RSTs": a segment with text starting at RCV.NXT is "control" — its RST and ACK are
 * processed, its text and FIN refused. Otherwise a peer whose data carries the ACKs of ours (a
 * window probe with a byte of new data, two-way traffic) would see them ignored until our RTO.
 */
function acceptance(c: Connection, seg: Segment): "yes" | "no" | "control" {
  if (
    seg.seqLength > 0 &&
    seg.seq === c.rcvNxt &&
    !(seg.flags & SYN) &&
    seqDiff(c.rcvAdvRight, c.rcvNxt) <= 0
  )
    return "control";
  return inWindow(c, seg) ? "yes" : "no";
}

/** Any of the segment inside the window (the table of §3.10.7.4). */
function inWindow(c: Connection, seg: Segment): boolean {
  const wnd = Math.max(0, seqDiff(c.rcvAdvRight, c.rcvNxt));
  const len = seg.seqLength;
  const seq = seg.seq;
  if (len === 0) {
    if (wnd === 0) return seq === c.rcvNxt;
    return seqLe(c.rcvNxt, seq) && seqLt(seq, seqAdd(c.rcvNxt, wnd));
  }
  if (wnd === 0) return false;
  const last = seqAdd(seq, len - 1);
  const right = seqAdd(c.rcvNxt, wnd);
  return (
    (seqLe(c.rcvNxt, seq) && seqLt(seq, right)) || (seqLe(c.rcvNxt, last) && seqLt(last, right))
  );
}

function resetByPeer(c: Connection): void {
  switch (c.state) {
    case "SYN_RECEIVED":
      // From a listener: back to LISTEN (finish forgets the half-open entry); active: refused.
      c.finish(
        c.listener !== undefined ? undefined : new TcpError("ECONNREFUSED", "connection refused"),
      );
      return;
    case "ESTABLISHED":
    case "FIN_WAIT_1":
    case "FIN_WAIT_2":
    case "CLOSE_WAIT":
      c.finish(new TcpError("ECONNRESET", "connection reset by peer"));
      return;
    default:
      c.finish(undefined);
  }
}

function processFin(c: Connection, now: number): void {
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.finReceived = true;
  c.peerFinOffset = -1;
  c.host.emit(c, "end");
  ackNow(c, now);
  switch (c.state) {
    case "SYN_RECEIVED":
    case "ESTABLISHED":
      c.state = "CLOSE_WAIT";
      break;
    case "FIN_WAIT_1":
      if (c.unaOff > c.finOff) c.enterTimeWait(now);
      else c.state = "CLOSING";
      break;
    case "FIN_WAIT_2":
      c.enterTimeWait(now);
      break;
  }
}

/** Stores the segment's text (trimmed to the window) and handles its FIN. */
function processText(c: Connection, seg: Segment, now: number, drop: Drop): void {
  let payload = seg.payload;
  let seq = seg.seq;
  let fin = (seg.flags & FIN) !== 0;
  const s = c.state;
  const receiving = s === "ESTABLISHED" || s === "FIN_WAIT_1" || s === "FIN_WAIT_2";
  if (!receiving) {
    if (payload.length > 0 || fin) ackNow(c, now); // CLOSE_WAIT/CLOSING/LAST_ACK: retransmission
    return;
  }
  if (payload.length > 0 && c.orphan) {
    // Data for a socket the application closed: reset (as Linux, RFC 9293 §3.10.7.4 text step).
    sendRst(c, c.seqOf(c.nxtOff), 0, false);
    c.finish(undefined);
    return;
  }
  if (seqLt(seq, c.rcvNxt)) {
    const cut = seqDiff(c.rcvNxt, seq);
    if (cut >= payload.length) {
      if (cut > payload.length) fin = false;
      payload = payload.subarray(payload.length);
    } else payload = payload.subarray(cut);
    seq = c.rcvNxt;
  }
  const right = c.rcvAdvRight;
  if (payload.length > 0 && seqGt(seqAdd(seq, payload.length), right)) {
    payload = payload.subarray(0, Math.max(0, seqDiff(right, seq)));
    fin = false; // the FIN lies beyond the window
  }
  const off = c.rcvOffset + seqDiff(seq, c.rcvNxt);
  if (payload.length > 0) {
    const hadOoo = c.recvBuf.outOfOrderRanges > 0;
    const advanced = c.recvBuf.push(off, payload);
    if (advanced > 0) {
      c.rcvNxt = seqAdd(c.rcvNxt, advanced);
      c.unackedBytes += advanced;
      c.host.emit(c, "readable");
      if (hadOoo || c.unackedBytes >= 2 * c.mss) ackSoon(c, now);
      else if (c.delackAt < 0) {
        c.delackAt = now + DELACK_MS;
        c.host.schedule(c);
      }
    } else {
      if (advanced < 0) drop("out-of-window");
      // Out of order: immediate duplicate ACK (RFC 5681 §4.2). With SACK the blocks tell the
      // sender everything, so one per batch suffices (gVisor); without, each one counts.
      if (c.sackOk) ackSoon(c, now);
      else ackNow(c, now);
    }
  }
  if (fin) {
    const finOffset = off + payload.length;
    if (finOffset === c.rcvOffset) processFin(c, now);
    else if (finOffset > c.rcvOffset) c.peerFinOffset = finOffset;
  } else if (c.peerFinOffset >= 0 && c.peerFinOffset === c.rcvOffset) {
    processFin(c, now);
  }
}

function timeWaitInput(c: Connection, seg: Segment, now: number, drop: Drop): void {
  const f = seg.flags;
  if (f & RST) {
    if (seg.seq === c.rcvNxt) c.finish(undefined);
    else drop("bad-rst");
    return;
  }
  if (f & FIN) {
    // The peer's FIN was retransmitted: our ACK was lost. ACK again, restart 2·MSL (§3.10.7.4).
    ackNow(c, now);
    c.closeAt = now + c.host.timeWaitMs;
    c.host.schedule(c);
    return;
  }
  if (f & SYN) challengeAck(c, now, CHALLENGE_ACK_INTERVAL_MS);
  drop("state");
}

/** Processes one segment addressed to this connection. */
export function connectionInput(c: Connection, seg: Segment, now: number, drop: Drop): void {
  const f = seg.flags;
  if (c.state === "SYN_SENT") {
    synSentInput(c, seg, now, drop);
    return;
  }
  if (c.state === "TIME_WAIT") {
    timeWaitInput(c, seg, now, drop);
    return;
  }
  if (c.state === "SYN_RECEIVED" && f & SYN && !(f & ACK) && seg.seq === c.irs) {
    sendSyn(c, now); // our SYN-ACK was lost: the peer retransmitted its SYN
    return;
  }
  // PAWS (RFC 7323 §5.3).
  if (c.tsOk && seg.hasTimestamp && !(f & RST)) {
    if (seqLt(seg.tsVal, c.tsRecent) && now - c.tsRecentAt < PAWS_IDLE_MS) {
      challengeAck(c, now, OOW_ACK_INTERVAL_MS);
      drop("paws");
      return;
    }
  }
  const accept = acceptance(c, seg);
  if (accept === "no") {
    if (!(f & RST)) challengeAck(c, now, OOW_ACK_INTERVAL_MS);
    drop("out-of-window");
    return;
  }
  c.lastRecvAt = now;
  c.keepaliveProbes = 0;
  if (f & RST) {
    // RFC 5961 §3.2: only an exact RCV.NXT match resets; in window otherwise → challenge ACK.
    if (seg.seq === c.rcvNxt) resetByPeer(c);
    else {
      challengeAck(c, now, CHALLENGE_ACK_INTERVAL_MS);
      drop("bad-rst");
    }
    return;
  }
  if (f & SYN) {
    // RFC 5961 §4: a SYN on a synchronized connection gets a challenge ACK, whatever its SEQ.
    challengeAck(c, now, CHALLENGE_ACK_INTERVAL_MS);
    drop("bad-syn");
    return;
  }
  if (!(f & ACK)) {
    drop("state");
    return;
  }
  if (c.state === "SYN_RECEIVED") {
    if (seg.ack !== c.seqOf(0)) {
      sendRst(c, seg.ack, 0, false);
      drop("bad-ack");
      return;
    }
    becomeEstablished(c, seg, now);
  } else {
    const r = processAck(c, seg, now);
    if (r === "closed") return;
    if (r === "drop") {
      drop("bad-ack");
      return;
    }
  }
  // RFC 7323 §4.3: update TS.Recent when the segment covers Last.ACK.sent — only once its ACK
  // was found acceptable: an in-window forgery with a bad ACK would otherwise plant a huge TSval
  // and PAWS would drop the real peer from then on (Linux moved this after tcp_ack() for that
  // reason, commit bd090dfc634d).
  if (c.tsOk && seg.hasTimestamp && seqLe(seg.seq, c.lastAckSent) && seqGe(seg.tsVal, c.tsRecent)) {
    c.tsRecent = seg.tsVal;
    c.tsRecentAt = now;
  }
  if (accept === "control") {
    drop("out-of-window");
    ackNow(c, now); // the text did not fit: announce the (zero) window again
  } else processText(c, seg, now, drop);
  if (c.state !== "CLOSED") sendData(c, now);
}
