/**
 * Segments for a listening port with no connection (RFC 9293 §3.10.7.2 LISTEN): a SYN opens a
 * half-open connection while the backlog has room, else is answered statelessly with a SYN
 * cookie (RFC 4987 §3.6); an ACK completes a cookie handshake or is reset; a RST is ignored.
 * Also the RST for segments that belong to nobody (§3.5.2).
 */
import { becomeEstablished, connectionInput, type Drop, negotiateSyn } from "./conn-input.js";
import { sendSyn } from "./conn-output.js";
import type { Connection } from "./connection.js";
import type { TupleHasher } from "./isn.js";
import type { Listener } from "./listener.js";
import { synOptionsLength, writeHeader, writeSynOptions } from "./options.js";
import { ACK, RST, type Segment, SYN } from "./segment.js";
import { allocSegment } from "./segment-alloc.js";
import { seqAdd } from "./seq.js";
import {
  checkCookie,
  cookieOptionsFrom,
  cookieTsOffset,
  cookieTsVal,
  makeCookie,
} from "./syn-cookie.js";
import type { IpAddress, TcpStats } from "./types.js";

export interface ListenerContext {
  readonly hasher: TupleHasher;
  readonly headroom: number;
  readonly stats: TcpStats;
  readonly receiveBufferSize: number;
  /** Our window shift for that buffer (RFC 7323 §2.2), announced on SYN-ACKs. */
  readonly rcvWscale: number;
  /** Options this layer offers and accepts. */
  readonly features: { sack: boolean; timestamps: boolean; windowScaling: boolean };
  /** The MSS we announce: link MTU − 40 (IPv4) / − 60 (IPv6). */
  mssFor(v6: boolean): number;
  readonly drop: Drop;
  /** Raw output from `src` to `dst`. */
  send(src: IpAddress, dst: IpAddress, segment: Uint8Array): void;
  newConnection(
    la: IpAddress,
    lport: number,
    ra: IpAddress,
    rport: number,
    now: number,
  ): Connection;
  insert(c: Connection): void;
}

function segmentBuffer(ctx: ListenerContext, len: number): Uint8Array {
  const buf = allocSegment(ctx.headroom + len);
  return ctx.headroom === 0 ? buf : buf.subarray(ctx.headroom);
}

/** RFC 9293 §3.5.2: the reset for a segment that belongs to no connection. */
export function statelessReset(
  ctx: ListenerContext,
  src: IpAddress,
  dst: IpAddress,
  seg: Segment,
): void {
  const out = segmentBuffer(ctx, 20);
  if (seg.flags & ACK) {
    writeHeader(out, 0, seg.dstPort, seg.srcPort, seg.ack, 0, 20, RST, 0);
  } else {
    writeHeader(
      out,
      0,
      seg.dstPort,
      seg.srcPort,
      0,
      seqAdd(seg.seq, seg.seqLength),
      20,
      RST | ACK,
      0,
    );
  }
  ctx.stats.resetsSent++;
  ctx.send(dst, src, out);
}

function cookieSynAck(
  ctx: ListenerContext,
  src: IpAddress,
  dst: IpAddress,
  seg: Segment,
  now: number,
): void {
  const tuple = { local: dst, localPort: seg.dstPort, remote: src, remotePort: seg.srcPort };
  const iss = makeCookie(ctx.hasher, tuple, seg.seq, seg.mss > 0 ? seg.mss : 536, now);
  const f = ctx.features;
  // Only a timestamp can carry the other options back to us (syn-cookie.ts).
  const ts = seg.hasTimestamp && f.timestamps;
  const wscale = ts && seg.wscale >= 0 && f.windowScaling ? seg.wscale : -1;
  const sack = ts && seg.sackPermitted && f.sack;
  const o = {
    mss: ctx.mssFor(dst.length === 16),
    wscale: wscale >= 0 ? ctx.rcvWscale : -1,
    sackPermitted: sack,
    ts: ts
      ? {
          val: cookieTsVal(Math.floor(now) + cookieTsOffset(ctx.hasher, tuple), { wscale, sack }),
          ecr: seg.tsVal,
        }
      : undefined,
  };
  const hlen = 20 + synOptionsLength(o);
  const out = segmentBuffer(ctx, hlen);
  const wnd = Math.min(ctx.receiveBufferSize, 0xffff);
  writeHeader(out, 0, seg.dstPort, seg.srcPort, iss, seqAdd(seg.seq, 1), hlen, SYN | ACK, wnd);
  writeSynOptions(out, 20, o);
  ctx.stats.segmentsOut++;
  ctx.send(dst, src, out);
}

/** An ACK returning a valid cookie: the connection is created ESTABLISHED (no TCB before). */
function cookieAck(
  ctx: ListenerContext,
  l: Listener,
  src: IpAddress,
  dst: IpAddress,
  seg: Segment,
  now: number,
): boolean {
  const tuple = { local: dst, localPort: seg.dstPort, remote: src, remotePort: seg.srcPort };
  const peerIsn = (seg.seq - 1) >>> 0;
  const mss = checkCookie(ctx.hasher, tuple, peerIsn, (seg.ack - 1) >>> 0, now);
  if (mss === 0) return false;
  const c = ctx.newConnection(dst.slice(), seg.dstPort, src.slice(), seg.srcPort, now);
  c.iss = (seg.ack - 1) >>> 0;
  c.irs = peerIsn;
  c.rcvNxt = seg.seq;
  c.rcvAdvRight = seqAdd(seg.seq, Math.min(ctx.receiveBufferSize, 0xffff));
  c.lastAckSent = seg.seq;
  c.peerMss = mss;
  // The options our SYN-ACK accepted come back in the TSecr it made the peer echo.
  const f = ctx.features;
  c.tsOk = f.timestamps && seg.hasTimestamp && seg.tsEcr !== 0;
  const o = c.tsOk ? cookieOptionsFrom(seg.tsEcr) : { wscale: -1, sack: false };
  c.wsOk = o.wscale >= 0 && f.windowScaling;
  c.sndWscale = c.wsOk ? o.wscale : 0;
  if (!c.wsOk) c.rcvWscale = 0;
  c.sackOk = o.sack && f.sack;
  if (c.tsOk) {
    c.tsOffset = cookieTsOffset(ctx.hasher, tuple);
    c.tsRecent = seg.tsVal;
    c.tsRecentAt = now;
  }
  c.mss = Math.min(mss, c.mtuMss) - (c.tsOk ? 12 : 0);
  c.nxtOff = c.maxOff = 0;
  c.listener = l; // becomeEstablished hands it to the listener ("accept")
  l.halfOpen++;
  ctx.insert(c);
  becomeEstablished(c, seg, now);
  connectionInput(c, seg, now, ctx.drop); // data riding on the handshake's ACK
  return true;
}

/** A segment to a listener that matched no connection. */
export function listenerInput(
  ctx: ListenerContext,
  l: Listener,
  src: IpAddress,
  dst: IpAddress,
  seg: Segment,
  now: number,
): void {
  const f = seg.flags;
  if (f & RST) {
    ctx.drop("state"); // LISTEN ignores RST
    return;
  }
  if (f & ACK) {
    if (!(f & SYN) && cookieAck(ctx, l, src, dst, seg, now)) return;
    ctx.drop("no-socket");
    statelessReset(ctx, src, dst, seg);
    return;
  }
  if (!(f & SYN)) {
    ctx.drop("state");
    return;
  }
  if (l.halfOpen >= l.backlog) {
    // The half-open table is full (a flood, or a burst): answer without keeping state.
    ctx.drop("backlog-full");
    cookieSynAck(ctx, src, dst, seg, now);
    return;
  }
  const n = ctx.newConnection(dst.slice(), seg.dstPort, src.slice(), seg.srcPort, now);
  n.listener = l;
  l.halfOpen++;
  n.state = "SYN_RECEIVED";
  negotiateSyn(n, seg, now);
  ctx.insert(n);
  // Data on a SYN is not kept (as Linux without TFO): the peer resends it after the handshake.
  sendSyn(n, now);
}
