/**
 * The TCP layer: demultiplexes verified segments to connections and listeners, answers
 * segments for nobody with RST (RFC 9293 §3.5.2), opens connections (ISN per RFC 6528,
 * ephemeral ports per RFC 6056/6335), keeps one timer heap for the whole layer and delivers
 * connection events after each call returns to a consistent state.
 */
import type { CongestionControl } from "./congestion/controller.js";
import { Cubic } from "./congestion/cubic.js";
import { NewReno } from "./congestion/newreno.js";
import { connectionIcmp } from "./conn-icmp.js";
import { connectionInput } from "./conn-input.js";
import { ackNow, sendSyn } from "./conn-output.js";
import { connectionTimers } from "./conn-timers.js";
import { Connection, type ConnectionHost, receiveWindowScale } from "./connection.js";
import {
  DEFAULT_BACKLOG,
  DEFAULT_BUFFER,
  DEFAULT_MTU,
  DEFAULT_TIME_WAIT_MS,
  EPHEMERAL_HIGH,
  EPHEMERAL_LOW,
} from "./constants.js";
import { EventQueue } from "./event-queue.js";
import { initialSequenceNumber, TupleHasher } from "./isn.js";
import { Listener } from "./listener.js";
import { type ListenerContext, listenerInput, statelessReset } from "./listener-input.js";
import { ACK, parseSegment, quotedPortsAndSeq, RST, Segment, SYN } from "./segment.js";
import { seqGt } from "./seq.js";
import { TimerHeap } from "./timer-heap.js";
import {
  type IpAddress,
  type TcpConnection,
  type TcpConnectOptions,
  type TcpDropReason,
  type TcpEndpoint,
  TcpError,
  type TcpIcmpError,
  type TcpLayerOptions,
  type TcpListener,
  type TcpListenOptions,
  type TcpStats,
} from "./types.js";

function sameAddr(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function read32(a: Uint8Array, i: number): number {
  return (a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3];
}

/** Demultiplexing key; collisions are resolved by comparing the whole 4-tuple. */
function tupleKey(localPort: number, remote: Uint8Array, remotePort: number): number {
  let h = (localPort << 16) | remotePort;
  h ^= read32(remote, remote.length - 4);
  if (remote.length === 16) h ^= Math.imul(read32(remote, 0) ^ read32(remote, 8), 0x9e3779b1);
  return h | 0;
}

const DROP_REASONS: readonly TcpDropReason[] = [
  "malformed",
  "no-socket",
  "out-of-window",
  "paws",
  "bad-ack",
  "bad-rst",
  "bad-syn",
  "backlog-full",
  "state",
];

export class TcpLayer {
  /** Dropped inbound segments by reason. */
  readonly drops: Record<TcpDropReason, number>;
  readonly stats: TcpStats = {
    segmentsIn: 0,
    segmentsOut: 0,
    retransmittedSegments: 0,
    timeouts: 0,
    fastRecoveries: 0,
    lossProbes: 0,
    lossProbeRecoveries: 0,
    challengeAcks: 0,
    connectionsOpened: 0,
    resetsSent: 0,
  };
  private readonly conns = new Map<number, Connection[]>();
  private count = 0;
  private readonly listeners = new Map<number, Listener[]>();
  private readonly heap = new TimerHeap<Connection>();
  private readonly hasher: TupleHasher;
  private readonly seg = new Segment();
  private readonly drop = (r: TcpDropReason): void => {
    this.drops[r]++;
  };
  private readonly events = new EventQueue();
  private readonly listenCtx: ListenerContext;
  private lastNow = 0;
  /** Inside beginBatch … endBatch: connections owing an ACK at the end. */
  private batching = false;
  private readonly owed: Connection[] = [];
  private readonly host: ConnectionHost;
  private readonly makeCc: (mss: number) => CongestionControl;
  private readonly opts: Required<Omit<TcpLayerOptions, "clock" | "mtu">> & {
    mtu: { v4: number; v6: number };
  };

  constructor(options: TcpLayerOptions) {
    this.opts = {
      output: options.output,
      random: options.random,
      mtu: options.mtu ?? { v4: DEFAULT_MTU, v6: DEFAULT_MTU },
      headroom: options.headroom ?? 0,
      maxEmitSegment: options.maxEmitSegment ?? 0,
      congestionControl: options.congestionControl ?? "cubic",
      sendBufferSize: options.sendBufferSize ?? DEFAULT_BUFFER,
      receiveBufferSize: options.receiveBufferSize ?? DEFAULT_BUFFER,
      timeWaitMs: options.timeWaitMs ?? DEFAULT_TIME_WAIT_MS,
      backlog: options.backlog ?? DEFAULT_BACKLOG,
      ownsInput: options.ownsInput ?? false,
      sack: options.sack ?? true,
      timestamps: options.timestamps ?? true,
      windowScaling: options.windowScaling ?? true,
      ackPerBatch: options.ackPerBatch ?? true,
    };
    this.drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
      TcpDropReason,
      number
    >;
    this.hasher = new TupleHasher(options.random(8));
    this.makeCc =
      this.opts.congestionControl === "newreno"
        ? (mss) => new NewReno(mss)
        : (mss) => new Cubic(mss);
    const clock = options.clock;
    const output = this.opts.output;
    this.host = {
      headroom: this.opts.headroom,
      maxEmitSegment: this.opts.maxEmitSegment,
      ownsInput: this.opts.ownsInput,
      timeWaitMs: this.opts.timeWaitMs,
      stats: this.stats,
      features: {
        sack: this.opts.sack,
        timestamps: this.opts.timestamps,
        windowScaling: this.opts.windowScaling,
      },
      output: (c, segment, mss) => output(c.localAddress, c.remoteAddress, segment, mss),
      schedule: (c) => this.schedule(c),
      deferAck: (c) => this.deferAck(c),
      remove: (c) => this.remove(c),
      emit: (c, ev, err) => this.events.push(c, ev, err),
      now: clock ?? (() => this.lastNow),
    };
    this.listenCtx = {
      hasher: this.hasher,
      headroom: this.opts.headroom,
      stats: this.stats,
      receiveBufferSize: this.opts.receiveBufferSize,
      rcvWscale: receiveWindowScale(this.opts.receiveBufferSize),
      features: {
        sack: this.opts.sack,
        timestamps: this.opts.timestamps,
        windowScaling: this.opts.windowScaling,
      },
      mssFor: (v6) => (v6 ? this.opts.mtu.v6 - 60 : this.opts.mtu.v4 - 40),
      drop: this.drop,
      send: (s, d, segment) => output(s, d, segment, 0),
      newConnection: (la, lp, ra, rp, now) => this.newConnection(la, lp, ra, rp, now),
      insert: (c) => this.insert(c),
    };
  }

  /** Open connections (all states but CLOSED, TIME_WAIT included). */
  get connectionCount(): number {
    return this.count;
  }

  // ---- IP layer interface ----

  /** A verified TCP segment from `src` (remote) to `dst` (ours). */
  input(src: IpAddress, dst: IpAddress, segment: Uint8Array, now: number): void {
    this.enter(now);
    try {
      this.demux(src, dst, segment, now);
    } finally {
      this.exit();
    }
  }

  /**
   * Starts a receive batch (the segments of one link read): until `endBatch`, connection events
   * wait and each connection's data-driven ACKs collapse into one, sent at the end.
   */
  beginBatch(now: number): void {
    if (this.batching) return;
    this.enter(now);
    this.batching = true;
  }

  /**
   * Ends a receive batch: delivers the events first (the application reads what arrived, so
   * the ACK announces the window it reopened), then sends one ACK per connection that owes one.
   */
  endBatch(now: number): void {
    if (!this.batching) return;
    this.batching = false;
    try {
      this.exit();
    } finally {
      if (this.owed.length > 0) this.sendOwedAcks(now);
    }
  }

  private sendOwedAcks(now: number): void {
    this.enter(now);
    try {
      for (const c of this.owed) {
        if (c.ackDeferred && c.state !== "CLOSED") ackNow(c, now);
        c.ackDeferred = false;
      }
    } finally {
      this.owed.length = 0;
      this.exit();
    }
  }

  private deferAck(c: Connection): boolean {
    if (!this.batching || !this.opts.ackPerBatch) return false;
    if (!c.ackDeferred) {
      c.ackDeferred = true;
      this.owed.push(c);
    }
    return true;
  }

  /** An ICMP error quoting one of our segments (src = our address in the quoted packet). */
  icmpError(
    src: IpAddress,
    dst: IpAddress,
    quoted: Uint8Array,
    err: TcpIcmpError,
    now: number,
  ): void {
    this.enter(now);
    try {
      const q = quotedPortsAndSeq(quoted);
      const c = q === null ? undefined : this.lookup(src, q.srcPort, dst, q.dstPort);
      if (q === null || c === undefined || !connectionIcmp(c, q.seq, err, now)) {
        this.drops[q === null ? "malformed" : "no-socket"]++;
      }
    } finally {
      this.exit();
    }
  }

  tick(now: number): void {
    this.enter(now);
    try {
      const heap = this.heap;
      for (;;) {
        const at = heap.peek();
        if (at === undefined || at > now) break;
        const c = heap.pop() as Connection;
        if (c.scheduledAt !== at) continue; // stale entry
        c.scheduledAt = -1;
        if (c.state === "CLOSED") continue;
        connectionTimers(c, now);
        if ((c.state as string) !== "CLOSED") this.schedule(c);
      }
    } finally {
      this.exit();
    }
  }

  /** When `tick` should next run (may be early, never late), or undefined when idle. */
  nextDeadline(): number | undefined {
    return this.heap.peek();
  }

  // ---- application interface ----

  connect(
    local: TcpEndpoint,
    remote: TcpEndpoint,
    options: TcpConnectOptions,
    now: number,
  ): TcpConnection {
    const la = local.address;
    const ra = remote.address;
    if ((la.length !== 4 && la.length !== 16) || la.length !== ra.length) {
      throw new TcpError("EINVAL", "addresses must both be IPv4 (4 bytes) or IPv6 (16 bytes)");
    }
    if (!Number.isInteger(remote.port) || remote.port < 1 || remote.port > 65535) {
      throw new TcpError("EINVAL", `bad remote port ${remote.port}`);
    }
    if (!Number.isInteger(local.port) || local.port < 0 || local.port > 65535) {
      throw new TcpError("EINVAL", `bad local port ${local.port}`);
    }
    this.enter(now);
    try {
      const port = local.port === 0 ? this.ephemeralPort(la, ra, remote.port) : local.port;
      if (local.port !== 0 && this.lookup(la, port, ra, remote.port) !== undefined) {
        throw new TcpError("EADDRINUSE", `${port} → ${remote.port} already connected`);
      }
      const c = this.newConnection(la.slice(), port, ra.slice(), remote.port, now);
      c.noDelay = options.noDelay ?? true;
      if (options.keepAlive) {
        c.keepAlive = true;
        if (options.keepAliveInitialDelayMs) c.keepIdleMs = options.keepAliveInitialDelayMs;
      }
      if (options.events !== undefined) c.events = options.events;
      c.state = "SYN_SENT";
      this.insert(c);
      sendSyn(c, now);
      return c;
    } finally {
      this.exit();
    }
  }

  listen(
    address: IpAddress | null,
    port: number,
    options: TcpListenOptions,
    onAccept: (c: TcpConnection) => void,
  ): TcpListener {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new TcpError("EINVAL", `bad port ${port}`);
    }
    if (address !== null && address.length !== 4 && address.length !== 16) {
      throw new TcpError("EINVAL", "address must be 4 or 16 bytes");
    }
    const list = this.listeners.get(port) ?? [];
    for (const l of list) {
      if (l.address === null || address === null || sameAddr(l.address, address)) {
        throw new TcpError("EADDRINUSE", `port ${port} already in use`);
      }
    }
    const backlog = Math.max(1, options.backlog ?? this.opts.backlog);
    const l = new Listener(address?.slice() ?? null, port, backlog, onAccept, (x) =>
      this.unlisten(x),
    );
    list.push(l);
    this.listeners.set(port, list);
    return l;
  }

  // ---- internals ----

  private enter(now: number): void {
    if (now > this.lastNow) this.lastNow = now;
    this.events.enter();
  }

  private exit(): void {
    this.events.exit();
  }

  private schedule(c: Connection): void {
    const d = c.deadline();
    if (d >= 0 && (c.scheduledAt < 0 || d < c.scheduledAt)) {
      c.scheduledAt = d;
      this.heap.push(d, c);
    }
  }

  private newConnection(
    la: IpAddress,
    lport: number,
    ra: IpAddress,
    rport: number,
    now: number,
  ): Connection {
    const mtu = la.length === 16 ? this.opts.mtu.v6 : this.opts.mtu.v4;
    const o = this.opts;
    const c = new Connection(
      this.host,
      la,
      lport,
      ra,
      rport,
      o.sendBufferSize,
      o.receiveBufferSize,
      mtu,
      this.makeCc,
    );
    c.iss = initialSequenceNumber(this.hasher, la, lport, ra, rport, now);
    const r = o.random(4);
    c.tsOffset = ((r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]) >>> 0;
    return c;
  }

  private insert(c: Connection): void {
    this.stats.connectionsOpened++;
    c.key = tupleKey(c.localPort, c.remoteAddress, c.remotePort);
    const bucket = this.conns.get(c.key);
    if (bucket === undefined) this.conns.set(c.key, [c]);
    else bucket.push(c);
    this.count++;
  }

  private remove(c: Connection): void {
    const bucket = this.conns.get(c.key);
    if (bucket === undefined) return;
    const i = bucket.indexOf(c);
    if (i < 0) return;
    if (bucket.length === 1) this.conns.delete(c.key);
    else bucket.splice(i, 1);
    this.count--;
  }

  private lookup(
    la: IpAddress,
    lport: number,
    ra: IpAddress,
    rport: number,
  ): Connection | undefined {
    const bucket = this.conns.get(tupleKey(lport, ra, rport));
    if (bucket === undefined) return undefined;
    for (const c of bucket) {
      if (
        c.localPort === lport &&
        c.remotePort === rport &&
        sameAddr(c.remoteAddress, ra) &&
        sameAddr(c.localAddress, la)
      ) {
        return c;
      }
    }
    return undefined;
  }

  private findListener(dst: IpAddress, port: number): Listener | undefined {
    const list = this.listeners.get(port);
    if (list === undefined) return undefined;
    let any: Listener | undefined;
    for (const l of list) {
      if (l.address === null) any = l;
      else if (l.matches(dst)) return l;
    }
    return any;
  }

  private unlisten(l: Listener): void {
    const list = this.listeners.get(l.port);
    if (list !== undefined) {
      const rest = list.filter((x) => x !== l);
      if (rest.length === 0) this.listeners.delete(l.port);
      else this.listeners.set(l.port, rest);
    }
    // Half-open connections of a closed listener go away with it.
    for (const bucket of [...this.conns.values()]) {
      for (const c of [...bucket]) if (c.listener === l) c.abort();
    }
  }

  /** RFC 6056 §3.3.1-style random ephemeral port with no 4-tuple or listener clash. */
  private ephemeralPort(la: IpAddress, ra: IpAddress, rport: number): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const r = this.opts.random(2);
    const start = ((r[0] << 8) | r[1]) % span;
    for (let i = 0; i < span; i++) {
      const p = EPHEMERAL_LOW + ((start + i) % span);
      if (this.listeners.has(p)) continue;
      if (this.lookup(la, p, ra, rport) === undefined) return p;
    }
    throw new TcpError("EADDRNOTAVAIL", "no free ephemeral port");
  }

  private demux(src: IpAddress, dst: IpAddress, segment: Uint8Array, now: number): void {
    const seg = this.seg;
    this.stats.segmentsIn++;
    if (
      (src.length !== 4 && src.length !== 16) ||
      src.length !== dst.length ||
      !parseSegment(segment, seg) ||
      seg.srcPort === 0 ||
      seg.dstPort === 0
    ) {
      this.drops.malformed++;
      return;
    }
    const drop = this.drop;
    const f = seg.flags;
    const c = this.lookup(dst, seg.dstPort, src, seg.srcPort);
    if (c !== undefined) {
      // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN above the old sequence reopens TIME_WAIT.
      const reopen =
        c.state === "TIME_WAIT" &&
        (f & (SYN | ACK | RST)) === SYN &&
        (seqGt(seg.seq, c.rcvNxt) || (c.tsOk && seg.hasTimestamp && seqGt(seg.tsVal, c.tsRecent)));
      if (!reopen) {
        connectionInput(c, seg, now, drop);
        return;
      }
      c.finish(undefined);
    }
    const l = this.findListener(dst, seg.dstPort);
    if (l === undefined || l.closed) {
      drop("no-socket");
      if (!(f & RST)) statelessReset(this.listenCtx, src, dst, seg);
      return;
    }
    listenerInput(this.listenCtx, l, src, dst, seg, now);
  }
}
