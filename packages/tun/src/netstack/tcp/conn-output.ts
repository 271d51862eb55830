/**
 * Segment emission for one connection: SYN / SYN-ACK, ACKs with the advertised window
 * (receiver SWS avoidance, RFC 9293 §3.8.6.2.2), data under the congestion and receive windows
 * (sender SWS avoidance and Nagle, §3.8.6.2.1, RFC 896), SACK-based loss recovery (RFC 6675
 * §5 NextSeg / Pipe), retransmissions and RSTs.
 */
import { initialWindow } from "./congestion/controller.js";
import { armLossProbe } from "./conn-tlp.js";
import type { Connection } from "./connection.js";
import {
  dataOptionsLength,
  maxSackBlocks,
  synOptionsLength,
  writeDataOptions,
  writeHeader,
  writeSynOptions,
} from "./options.js";
import { ACK, FIN, PSH, RST, SYN } from "./segment.js";
import { allocSegment } from "./segment-alloc.js";
import { seqDiff, seqGt } from "./seq.js";

const sackScratch: number[] = [];
const sackWire = new Uint32Array(8);

function tsNow(c: Connection, now: number): number {
  return (Math.floor(now) + c.tsOffset) >>> 0;
}

/** Window field for a non-SYN segment; moves the advertised right edge (never left). */
function windowField(c: Connection): number {
  const free = Math.max(0, c.rcvCapacity - c.recvBuf.readable);
  const candidate = (c.rcvNxt + free) >>> 0;
  const threshold = Math.min(c.rcvCapacity >> 1, c.mss);
  if (seqGt(candidate, c.rcvAdvRight) && seqDiff(candidate, c.rcvAdvRight) >= threshold) {
    c.rcvAdvRight = candidate;
  }
  const wnd = Math.max(0, seqDiff(c.rcvAdvRight, c.rcvNxt));
  let field = wnd >>> c.rcvWscale;
  if (field << c.rcvWscale < wnd) field++; // round up rather than shrink the window
  if (field > 0xffff) field = 0xffff;
  // The edge the peer reads from the field (rounded up, or capped) is the one it may send to:
  // record exactly that, or data up to a rounded-up edge is refused once the window closes and
  // the peer's segments — its ACKs too — fall outside the window for good (RFC 7323 §2.3).
  c.rcvAdvRight = (c.rcvNxt + field * 2 ** c.rcvWscale) >>> 0;
  return field;
}

/** SACK blocks to announce (RFC 2018 §4), written to `sackWire`; returns the count. */
function sackBlocks(c: Connection): number {
  if (!c.sackOk || c.recvBuf.outOfOrderRanges === 0) return 0;
  const n = c.recvBuf.sackRanges(sackScratch, maxSackBlocks(c.tsOk));
  const base = c.irs + 1;
  for (let i = 0; i < 2 * n; i++) sackWire[i] = (base + (sackScratch[i] % 4294967296)) >>> 0;
  return n;
}

/**
 * Builds and outputs one non-SYN segment carrying send-buffer bytes [dataOff, dataOff + len).
 */
function emit(
  c: Connection,
  flags: number,
  seq: number,
  dataOff: number,
  len: number,
  now: number,
): void {
  let nSack = flags & RST ? 0 : sackBlocks(c);
  // SACK blocks ride on data only where they fit in the MSS (never on offloaded segments).
  if (len > 0 && nSack > 0) nSack = Math.max(0, Math.min(nSack, Math.floor((c.mss - len - 4) / 8)));
  const ts = c.tsOk && !(flags & RST);
  const hlen = 20 + dataOptionsLength(ts, nSack);
  const headroom = c.host.headroom;
  const buf = allocSegment(headroom + hlen + len);
  const seg = headroom === 0 ? buf : buf.subarray(headroom);
  const ackFlag = flags & ACK;
  const wnd = flags & RST ? 0 : windowField(c);
  writeHeader(seg, 0, c.localPort, c.remotePort, seq, ackFlag ? c.rcvNxt : 0, hlen, flags, wnd);
  if (hlen > 20) writeDataOptions(seg, 20, tsNow(c, now), c.tsRecent, ts, sackWire, nSack);
  if (len > 0) c.sendBuf.copyOut(dataOff - c.bufStart, len, seg, hlen);
  if (ackFlag) {
    c.lastAckSent = c.rcvNxt;
    c.unackedBytes = 0;
    c.delackAt = -1;
    c.ackDeferred = false;
  }
  c.host.stats.segmentsOut++;
  c.host.output(c, seg, c.mss - (hlen - 20 - (ts ? 12 : 0)));
}

/** SYN (active open) or SYN-ACK (passive or simultaneous open). */
export function sendSyn(c: Connection, now: number): void {
  const synAck = c.state === "SYN_RECEIVED";
  const f = c.host.features;
  // RFC 7323 §1.3 / RFC 2018: offer on SYN; on SYN-ACK only what the peer offered.
  const o = {
    mss: c.mtuMss,
    wscale: (synAck ? c.wsOk : f.windowScaling) ? c.rcvWscale : -1,
    sackPermitted: synAck ? c.sackOk : f.sack,
    ts: (synAck ? c.tsOk : f.timestamps)
      ? { val: tsNow(c, now), ecr: synAck ? c.tsRecent : 0 }
      : undefined,
  };
  const hlen = 20 + synOptionsLength(o);
  const headroom = c.host.headroom;
  const buf = allocSegment(headroom + hlen);
  const seg = headroom === 0 ? buf : buf.subarray(headroom);
  const wnd = Math.min(c.rcvCapacity, 0xffff);
  writeHeader(
    seg,
    0,
    c.localPort,
    c.remotePort,
    c.iss,
    synAck ? c.rcvNxt : 0,
    hlen,
    synAck ? SYN | ACK : SYN,
    wnd,
  );
  writeSynOptions(seg, 20, o);
  if (synAck) {
    c.rcvAdvRight = (c.rcvNxt + wnd) >>> 0;
    c.lastAckSent = c.rcvNxt;
  }
  c.nxtOff = c.maxOff = 0;
  if (c.retries === 0) c.rttStart = now;
  if (c.rtxAt < 0) c.rtxAt = now + c.rtt.rto;
  c.host.schedule(c);
  c.host.output(c, seg, c.mss);
}

/** A pure ACK now. */
export function ackNow(c: Connection, now: number): void {
  emit(c, ACK, c.seqOf(c.nxtOff), 0, 0, now);
}

/**
 * An ACK the received data calls for: now, or — inside a receive batch (TcpLayer.beginBatch) —
 * once for the whole batch when it ends (reference netstack.md §5.4, gVisor's per-wake ACK):
 * a WireGuard receive batch of 64 segments then costs one ACK, not 32.
 */
export function ackSoon(c: Connection, now: number): void {
  if (!c.host.deferAck(c)) ackNow(c, now);
}

/** RFC 5961 §3.2/§4/§5: challenge ACK, at most one per CHALLENGE_ACK_INTERVAL_MS. */
export function challengeAck(c: Connection, now: number, intervalMs: number): boolean {
  if (now - c.lastChallengeAt < intervalMs) return false;
  c.lastChallengeAt = now;
  c.host.stats.challengeAcks++;
  ackNow(c, now);
  return true;
}

/** RST from this connection (abort, or data for an orphan). */
export function sendRst(c: Connection, seq: number, ack: number, withAck: boolean): void {
  const headroom = c.host.headroom;
  const buf = allocSegment(headroom + 20);
  const seg = headroom === 0 ? buf : buf.subarray(headroom);
  writeHeader(
    seg,
    0,
    c.localPort,
    c.remotePort,
    seq,
    withAck ? ack : 0,
    20,
    withAck ? RST | ACK : RST,
    0,
  );
  c.host.output(c, seg, c.mss);
}

/** Payload per emitted segment: the MSS, or a multiple of it with segmentation offload. */
function emitLimit(c: Connection): number {
  const max = c.host.maxEmitSegment;
  return max > c.mss ? Math.floor(max / c.mss) * c.mss : c.mss;
}

/** Sends [off, end) (and the FIN when `end` reaches it) without moving SND.NXT. */
export function retransmit(c: Connection, off: number, end: number, now: number): void {
  const dataEnd = c.dataEnd;
  const len = Math.max(0, Math.min(end, dataEnd) - off);
  const fin = c.finOff >= 0 && off + len === c.finOff && end > c.finOff;
  if (len === 0 && !fin) return;
  emit(c, ACK | (fin ? FIN : 0) | (len > 0 ? PSH : 0), c.seqOf(off), off, len, now);
  c.host.stats.retransmittedSegments++;
  if (c.rttOff >= 0 && c.rttOff > off) c.rttOff = -1; // Karn: no sample from retransmitted data
  if (c.rtxAt < 0) {
    c.rtxAt = now + c.rtt.rto;
    c.host.schedule(c);
  }
}

/** RFC 6675 §2 Pipe: bytes believed in the network. */
export function pipe(c: Connection): number {
  const una = c.unaOff;
  const nxt = c.nxtOff;
  let p = c.sack.holesBetween(una, nxt);
  const edge = c.sack.lossEdge(c.mss);
  const lostFrom = Math.max(c.highRxt, una);
  if (edge > lostFrom) p -= c.sack.holesBetween(lostFrom, Math.min(edge, nxt));
  return p;
}

/** RFC 6675 §5 NextSeg rule 1: the first lost, un-SACKed, not yet retransmitted range. */
function sackRetransmitStep(c: Connection, now: number): boolean {
  const edge = c.sack.lossEdge(c.mss);
  const s = c.sack.skipSacked(Math.max(c.highRxt, c.unaOff));
  if (s >= edge || s >= c.nxtOff) return false;
  const end = Math.min(s + c.mss, c.sack.nextSackedAbove(s), c.nxtOff);
  retransmit(c, s, end, now);
  c.highRxt = end;
  return true;
}

function canSend(c: Connection): boolean {
  const s = c.state;
  return (
    s === "ESTABLISHED" ||
    s === "CLOSE_WAIT" ||
    s === "FIN_WAIT_1" ||
    s === "CLOSING" ||
    s === "LAST_ACK"
  );
}

/**
 * Sends what the windows allow: in SACK recovery lost data first (RFC 6675), then new data
 * (or data after an RTO rewind) with sender SWS avoidance and optional Nagle, then the FIN.
 * Arms the retransmission or persist timer.
 */
export function sendData(c: Connection, now: number): void {
  if (!canSend(c)) return;
  const limit = emitLimit(c);
  const sentFrom = c.nxtOff;
  if (c.nxtOff === c.unaOff && now - c.lastSendAt > c.rtt.rto) {
    // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the initial window.
    c.cc.cwnd = Math.min(c.cc.cwnd, initialWindow(c.mss));
  }
  for (;;) {
    const flight = c.nxtOff - c.unaOff;
    if (c.inRecovery && c.sackOk) {
      if (c.cc.cwnd - pipe(c) < c.mss) break;
      if (sackRetransmitStep(c, now)) continue;
    } else if (flight >= c.cc.cwnd) break;
    const dataEnd = c.dataEnd;
    const avail = dataEnd - c.nxtOff;
    const finPending = c.finOff >= 0 && c.nxtOff <= c.finOff;
    if (avail <= 0) {
      if (!finPending) break;
      emit(c, ACK | FIN, c.seqOf(c.nxtOff), c.nxtOff, 0, now);
      advance(c, 1, now);
      break;
    }
    const rwndLeft = c.unaOff + c.sndWnd - c.nxtOff;
    const cwndLeft = c.inRecovery && c.sackOk ? c.cc.cwnd - pipe(c) : c.cc.cwnd - flight;
    let len = Math.min(avail, rwndLeft, cwndLeft, limit);
    if (len <= 0) break;
    if (len < c.mss && len < avail && !c.forceRunt) {
      // Sender SWS (RFC 9293 §3.8.6.2.1): a window-limited runt waits while data in flight
      // will bring an ACK, or until it is half the largest window seen; the persist timer is
      // the override timeout.
      if (flight > 0 || len < c.maxSndWnd >> 1) break;
    } else if (len < c.mss && !c.noDelay && flight > 0) {
      break; // Nagle (RFC 896): hold a runt while data is unacknowledged
    }
    if (len > c.mss) len -= len % c.mss; // offloaded segments are whole MSS multiples
    const fin = c.finOff >= 0 && c.nxtOff + len === c.finOff;
    const retrans = c.nxtOff < c.maxOff;
    emit(c, ACK | PSH | (fin ? FIN : 0), c.seqOf(c.nxtOff), c.nxtOff, len, now);
    if (retrans) {
      c.host.stats.retransmittedSegments++;
      if (c.rttOff > c.nxtOff) c.rttOff = -1;
    } else if (c.rttOff < 0 && !c.tsOk) {
      c.rttOff = c.nxtOff + len;
      c.rttStart = now;
    }
    advance(c, len + (fin ? 1 : 0), now);
    if (fin) break;
  }
  armPersist(c, now);
  if (c.nxtOff > sentFrom && c.tlpHigh < 0) armLossProbe(c, now);
}

function advance(c: Connection, n: number, now: number): void {
  c.lastSendAt = now;
  c.nxtOff += n;
  if (c.nxtOff > c.maxOff) c.maxOff = c.nxtOff;
  if (c.rtxAt < 0 || c.persisting) {
    c.persisting = false;
    c.rtxAt = now + c.rtt.rto;
    c.host.schedule(c);
  }
}

/** RFC 9293 §3.8.6.1: nothing in flight, data waiting, zero window → probe on the RTO timer. */
function armPersist(c: Connection, now: number): void {
  if (c.nxtOff !== c.unaOff || c.rtxAt >= 0) return;
  const pending = c.dataEnd > c.nxtOff;
  if (!pending) return;
  c.persisting = true;
  c.rtxAt = now + c.rtt.rto;
  c.host.schedule(c);
}

/** Zero-window probe: one already-acknowledged sequence number, no data (gVisor, Linux). */
export function sendWindowProbe(c: Connection, now: number): void {
  emit(c, ACK, c.seqOf(c.unaOff - 1), 0, 0, now);
}

/** Keep-alive probe: SEG.SEQ = SND.NXT − 1, no data (RFC 1122 §4.2.3.6). */
export function sendKeepAlive(c: Connection, now: number): void {
  emit(c, ACK, c.seqOf(c.nxtOff - 1), 0, 0, now);
}
