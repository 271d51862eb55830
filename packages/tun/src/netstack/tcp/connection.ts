/**
 * One TCP connection (the TCB of RFC 9293 §3.3.1) and its application handle. Segment
 * processing lives in conn-input.ts, segment emission in conn-output.ts, timers in
 * conn-timers.ts. The sender keeps its positions as stream offsets (numbers that never wrap:
 * offset −1 is the SYN, 0 the first data byte) and converts to sequence numbers on the wire.
 */
import type { CongestionControl } from "./congestion/controller.js";
import { ackNow, sendData, sendRst } from "./conn-output.js";
import { DEFAULT_MSS_V4, DEFAULT_MSS_V6, KEEPALIVE_IDLE_MS } from "./constants.js";
import { RecvBuffer } from "./recv-buffer.js";
import { RttEstimator } from "./rto.js";
import { SackScoreboard } from "./sack.js";
import { SendBuffer } from "./send-buffer.js";
import {
  type IpAddress,
  type TcpConnection,
  type TcpConnectionEvents,
  TcpError,
  type TcpState,
  type TcpStats,
} from "./types.js";

export type ConnectionEvent = "connected" | "readable" | "writable" | "end" | "close" | "accept";

/** The part of a listener a connection sees. */
export interface ListenerRef {
  halfOpen: number;
  onAccept(c: TcpConnection): void;
}

/** What a connection needs from the layer that owns it. */
export interface ConnectionHost {
  readonly headroom: number;
  readonly maxEmitSegment: number;
  readonly ownsInput: boolean;
  output(c: Connection, segment: Uint8Array, mss: number): void;
  /** The connection's earliest deadline changed. */
  schedule(c: Connection): void;
  /** Inside a receive batch: note that `c` owes an ACK at its end and return true; else false. */
  deferAck(c: Connection): boolean;
  /** The connection reached CLOSED: forget it. */
  remove(c: Connection): void;
  emit(c: Connection, ev: ConnectionEvent, err?: TcpError): void;
  now(): number;
  readonly timeWaitMs: number;
  readonly stats: TcpStats;
  /** Options this layer offers and accepts (RFC 7323, RFC 2018). */
  readonly features: { sack: boolean; timestamps: boolean; windowScaling: boolean };
}

/** RFC 7323 §2.2: the smallest shift that lets the whole receive buffer be advertised. */
export function receiveWindowScale(receiveBufferSize: number): number {
  let s = 0;
  while (s < 14 && receiveBufferSize >> s > 65535) s++;
  return s;
}

export class Connection implements TcpConnection {
  state: TcpState = "CLOSED";
  readonly v6: boolean;
  /** Demultiplexing key (tcp-layer.ts). */
  key = 0;
  events: TcpConnectionEvents = {};
  /** Listener that created this connection, while it is half-open. */
  listener: ListenerRef | undefined;
  /** The listener to hand the connection to once established (the "accept" event). */
  acceptBy: ListenerRef | undefined;

  // ---- send side (offsets: −1 = SYN, 0… data, finOff = FIN) ----
  iss = 0;
  unaOff = -1;
  nxtOff = -1;
  /** Highest offset ever sent (SND.NXT before an RTO rewind). */
  maxOff = -1;
  /** Offset of our FIN once the application shut down writing, else −1. */
  finOff = -1;
  sndWnd = 0;
  maxSndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  sndWscale = 0;
  /** Window scaling in use (both SYNs carried the option). */
  wsOk = false;
  readonly sendBuf: SendBuffer;
  /** Payload bytes per segment (peer MSS, path MTU, minus fixed options). */
  mss: number;
  peerMss: number;
  mtuMss: number;

  // ---- receive side ----
  irs = 0;
  /** RCV.NXT as a sequence number. */
  rcvNxt = 0;
  /** Right edge of the window we last advertised (never moves left, RFC 9293 §3.8.6.2.2). */
  rcvAdvRight = 0;
  rcvWscale = 0;
  readonly recvBuf: RecvBuffer;
  readonly rcvCapacity: number;
  /** Stream offset of the peer's FIN when it arrived beyond a hole, else −1. */
  peerFinOffset = -1;
  finReceived = false;
  /** Bytes received since the last ACK we sent (delayed ACK, RFC 1122 §4.2.3.2). */
  unackedBytes = 0;
  /** An ACK is owed at the end of the current receive batch (conn-output.ts ackSoon). */
  ackDeferred = false;

  // ---- options ----
  tsOk = false;
  sackOk = false;
  tsOffset = 0;
  tsRecent = 0;
  tsRecentAt = 0;
  lastAckSent = 0;

  // ---- loss recovery / congestion ----
  readonly rtt = new RttEstimator();
  cc: CongestionControl;
  readonly sack = new SackScoreboard();
  inRecovery = false;
  /** RFC 6582 `recover` / RFC 6675 RecoveryPoint (offset). */
  recoverOff = -1;
  highRxt = 0;
  dupAcks = 0;
  /** Karn timing without timestamps: offset whose ACK ends the sample, and when it was sent. */
  rttOff = -1;
  rttStart = 0;

  // ---- timers (absolute ms, −1 = off) ----
  rtxAt = -1;
  delackAt = -1;
  /** Tail loss probe timeout (conn-tlp.ts), and the probe episode: its end offset (−1 = none)
   * and whether the probe was a retransmission. */
  tlpAt = -1;
  tlpHigh = -1;
  tlpRetransmitted = false;
  keepaliveAt = -1;
  closeAt = -1;
  /** The deadline currently in the layer's heap (for lazy rescheduling). */
  scheduledAt = -1;
  retries = 0;
  persisting = false;
  /** Set while the persist timer acts as the sender-SWS override timeout. */
  forceRunt = false;
  /** When data was last sent (RFC 5681 §4.1 idle restart). */
  lastSendAt = 0;
  lastRecvAt = 0;
  keepaliveProbes = 0;
  lastChallengeAt = Number.NEGATIVE_INFINITY;

  // ---- application ----
  noDelay = true;
  keepAlive = false;
  keepIdleMs = KEEPALIVE_IDLE_MS;
  orphan = false;
  wantWritable = false;
  closeEmitted = false;
  /** A `readable` event is queued and not yet delivered. */
  readableQueued = false;
  /** The layer delivered `close`: no further events. */
  closeDelivered = false;
  softError: TcpError | undefined;
  bytesRead = 0;
  bytesWritten = 0;

  constructor(
    readonly host: ConnectionHost,
    readonly localAddress: IpAddress,
    readonly localPort: number,
    readonly remoteAddress: IpAddress,
    readonly remotePort: number,
    sendBufferSize: number,
    receiveBufferSize: number,
    mtu: number,
    readonly makeCc: (mss: number) => CongestionControl,
  ) {
    this.v6 = localAddress.length === 16;
    this.sendBuf = new SendBuffer(sendBufferSize);
    this.recvBuf = new RecvBuffer(!host.ownsInput);
    this.rcvCapacity = receiveBufferSize;
    this.mtuMss = mtu - (this.v6 ? 60 : 40);
    this.peerMss = this.v6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4;
    this.mss = Math.min(this.mtuMss, this.peerMss);
    this.cc = makeCc(this.mss);
    this.rcvWscale = receiveWindowScale(receiveBufferSize);
  }

  // ---- sequence/offset conversion ----

  seqOf(off: number): number {
    return (this.iss + 1 + (off % 4294967296)) >>> 0;
  }

  /** Offset of the byte after the last one the application wrote. */
  get dataEnd(): number {
    return Math.max(this.unaOff, 0) + this.sendBuf.length;
  }

  /** Offset of the first byte still in the send buffer. */
  get bufStart(): number {
    return Math.max(this.unaOff, 0);
  }

  /** Stream offset of RCV.NXT's data position. */
  get rcvOffset(): number {
    return this.recvBuf.nextOffset;
  }

  get synchronized(): boolean {
    return this.state !== "CLOSED" && this.state !== "SYN_SENT" && this.state !== "SYN_RECEIVED";
  }

  // ---- TcpConnection ----

  get writableLength(): number {
    return this.sendBuf.length;
  }

  get writableSpace(): number {
    return this.canWrite() ? this.sendBuf.free : 0;
  }

  get readableLength(): number {
    return this.recvBuf.readable;
  }

  get readableEnded(): boolean {
    return this.finReceived;
  }

  setEvents(events: TcpConnectionEvents): void {
    this.events = events;
    if (this.recvBuf.readable > 0) this.host.emit(this, "readable");
  }

  private canWrite(): boolean {
    return (
      this.finOff < 0 &&
      !this.orphan &&
      (this.state === "ESTABLISHED" ||
        this.state === "CLOSE_WAIT" ||
        this.state === "SYN_SENT" ||
        this.state === "SYN_RECEIVED")
    );
  }

  write(data: Uint8Array): number {
    if (!this.canWrite()) throw this.softError ?? new TcpError("EPIPE", "write after end");
    const n = this.sendBuf.append(data);
    this.bytesWritten += n;
    if (n < data.length) this.wantWritable = true;
    if (this.synchronized) sendData(this, this.host.now());
    return n;
  }

  read(max = Number.MAX_SAFE_INTEGER): Uint8Array | null {
    const chunk = this.recvBuf.read(max);
    if (chunk === null) return null;
    this.bytesRead += chunk.length;
    this.maybeWindowUpdate();
    return chunk;
  }

  /**
   * After the application consumed data: announce the reopened window at once when the
   * advertised window was small (receiver SWS, RFC 9293 §3.8.6.2.2; google/gvisor#1398).
   */
  private maybeWindowUpdate(): void {
    if (!this.synchronized || this.finReceived) return;
    const adv = (this.rcvAdvRight - this.rcvNxt) | 0;
    const free = this.rcvCapacity - this.recvBuf.readable;
    const threshold = Math.min(this.rcvCapacity >> 1, this.mss);
    if (adv < this.rcvCapacity >> 1 && free - adv >= threshold) ackNow(this, this.host.now());
  }

  shutdownWrite(): void {
    if (this.finOff >= 0) return;
    switch (this.state) {
      case "ESTABLISHED":
        this.state = "FIN_WAIT_1";
        break;
      case "CLOSE_WAIT":
        this.state = "LAST_ACK";
        break;
      case "SYN_SENT":
      case "SYN_RECEIVED":
        break; // FIN follows the handshake (conn-input.ts becomeEstablished)
      default:
        return;
    }
    this.finOff = this.dataEnd;
    if (this.synchronized) sendData(this, this.host.now());
  }

  close(): void {
    if (this.state === "CLOSED" || this.orphan) return;
    if (this.recvBuf.readable > 0 || this.state === "SYN_SENT") {
      // RFC 1122 §4.2.2.13: closing with unread data resets.
      this.abort();
      return;
    }
    this.orphan = true;
    this.shutdownWrite();
  }

  abort(): void {
    if (this.state === "CLOSED") return;
    if (this.state !== "SYN_SENT" && this.state !== "TIME_WAIT") {
      sendRst(this, this.seqOf(this.nxtOff), 0, false);
    }
    this.finish(undefined);
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay = noDelay;
    if (noDelay && this.synchronized) sendData(this, this.host.now());
  }

  setKeepAlive(enable: boolean, initialDelayMs = 0): void {
    this.keepAlive = enable;
    if (initialDelayMs > 0) this.keepIdleMs = initialDelayMs;
    this.keepaliveProbes = 0;
    this.keepaliveAt = enable && this.synchronized ? this.host.now() + this.keepIdleMs : -1;
    this.host.schedule(this);
  }

  // ---- lifecycle ----

  /** Ends the connection: CLOSED, forgotten, `close(err)` delivered once. */
  finish(err: TcpError | undefined): void {
    this.state = "CLOSED";
    this.rtxAt = this.delackAt = this.keepaliveAt = this.closeAt = this.tlpAt = -1;
    this.sendBuf.clear();
    const halfOpen = this.listener;
    if (halfOpen !== undefined) {
      // Never accepted: the listener forgets it and the application never hears of it.
      halfOpen.halfOpen--;
      this.listener = undefined;
      this.closeEmitted = true;
    }
    this.host.remove(this);
    this.emitClose(err);
  }

  emitClose(err: TcpError | undefined): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.host.emit(this, "close", err);
  }

  enterTimeWait(now: number): void {
    this.state = "TIME_WAIT";
    this.rtxAt = this.keepaliveAt = this.delackAt = this.tlpAt = -1;
    this.closeAt = now + this.host.timeWaitMs;
    this.sendBuf.clear();
    // The receive buffer stays readable: the application may not have read the last data yet.
    this.host.schedule(this);
    this.emitClose(undefined);
  }

  /** Earliest pending deadline, or −1. */
  deadline(): number {
    let d = this.rtxAt;
    const a = this.delackAt;
    if (a >= 0 && (d < 0 || a < d)) d = a;
    const k = this.keepaliveAt;
    if (k >= 0 && (d < 0 || k < d)) d = k;
    const c = this.closeAt;
    if (c >= 0 && (d < 0 || c < d)) d = c;
    const p = this.tlpAt;
    if (p >= 0 && (d < 0 || p < d)) d = p;
    return d;
  }
}
