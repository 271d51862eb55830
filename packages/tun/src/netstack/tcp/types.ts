/**
 * Public types of the TCP layer of the netstack (RFC 9293). The layer is sans-IO: it is handed
 * verified TCP segments and the time, and emits segments through a callback. No `node:` imports,
 * no timers, no clock reads: it runs anywhere JavaScript runs.
 */

/** An IP address as raw bytes: 4 (IPv4) or 16 (IPv6) bytes. */
export type IpAddress = Uint8Array;

export interface TcpEndpoint {
  address: IpAddress;
  port: number;
}

/** RFC 9293 §3.3.2 connection states. */
export type TcpState =
  | "CLOSED"
  | "LISTEN"
  | "SYN_SENT"
  | "SYN_RECEIVED"
  | "ESTABLISHED"
  | "FIN_WAIT_1"
  | "FIN_WAIT_2"
  | "CLOSE_WAIT"
  | "CLOSING"
  | "LAST_ACK"
  | "TIME_WAIT";

/** Error codes as Node's `net` reports them. */
export type TcpErrorCode =
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "EPIPE"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "EINVAL"
  | Exclude<TcpIcmpErrorCode, "EMSGSIZE">;

/** An error with a Node-style `code`, thrown for user errors and passed to `close`. */
export class TcpError extends Error {
  readonly code: TcpErrorCode;
  constructor(code: TcpErrorCode, message?: string) {
    super(message === undefined ? code : `${code}: ${message}`);
    this.name = "TcpError";
    this.code = code;
  }
}

/**
 * Emits one TCP segment (header + payload, checksum field 0: the IP layer computes it with the
 * pseudo-header). `src`/`dst` are the IP addresses. Ownership of `segment` passes to the callee;
 * `segment.byteOffset >= headroom` and the `headroom` bytes before it in `segment.buffer` are free
 * for the IP header. If the payload is longer than `mss` (segmentation offload, see
 * `TcpLayerOptions.maxEmitSegment`), the callee must split it into `mss`-sized segments (copy the
 * header, advance the sequence number, keep FIN/PSH only on the last piece).
 */
export type TcpOutput = (src: IpAddress, dst: IpAddress, segment: Uint8Array, mss: number) => void;

export type CongestionControlName = "cubic" | "newreno";

export interface TcpLayerOptions {
  output: TcpOutput;
  /** Cryptographically random bytes (ISN secret, ephemeral ports, timestamp offsets). */
  random(n: number): Uint8Array;
  /** Link MTU per family; MSS = MTU − 40 (IPv4) / − 60 (IPv6). Default 1420 for both. */
  mtu?: { v4: number; v6: number };
  /** Bytes to leave free before each emitted segment for the IP header. Default 0. */
  headroom?: number;
  /**
   * Largest payload emitted in one segment (segmentation offload). Default 0 = the MSS. When
   * larger, the IP/device layer splits segments whose payload exceeds the `mss` it is given.
   */
  maxEmitSegment?: number;
  /**
   * True when the caller hands over `input` segments for good (their buffer is never reused), so
   * received payload is kept as views without a copy. Default false: payload is copied.
   */
  ownsInput?: boolean;
  /** Time source for sends triggered by API calls (write/read/close); default the last `now` seen. */
  clock?: () => number;
  congestionControl?: CongestionControlName;
  /** Per-connection buffer sizes in bytes. Defaults 1 MiB each. */
  sendBufferSize?: number;
  receiveBufferSize?: number;
  /** TIME_WAIT duration (2·MSL), default 60 000 ms like Linux. */
  timeWaitMs?: number;
  /** Offer/accept SACK (RFC 2018), timestamps and window scaling (RFC 7323). Default all true. */
  sack?: boolean;
  timestamps?: boolean;
  windowScaling?: boolean;
  /** Default listen backlog (half-open connections before SYN cookies). Default 128. */
  backlog?: number;
  /**
   * Between `beginBatch` and `endBatch`, send one ACK per connection for the whole batch instead
   * of one per two full segments (RFC 1122 §4.2.3.2's rule still holds outside batches). Default
   * true; false restores per-segment ACKing inside batches.
   */
  ackPerBatch?: boolean;
}

export interface TcpConnectOptions {
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelayMs?: number;
  events?: TcpConnectionEvents;
}

/** Event sink of a connection. Events are delivered after the layer call that caused them. */
export interface TcpConnectionEvents {
  /** The handshake completed (active open). */
  connected?(): void;
  /** Bytes are available to `read()`. */
  readable?(): void;
  /** `write()` accepted fewer bytes than offered earlier and the send buffer has room again. */
  writable?(): void;
  /** The peer sent FIN; everything before it is already in the receive buffer. */
  end?(): void;
  /** The connection is finished (closed, reset, timed out); no more events follow. */
  close?(error?: TcpError): void;
}

/** Handle to one TCP connection. */
export interface TcpConnection {
  readonly state: TcpState;
  readonly localAddress: IpAddress;
  readonly localPort: number;
  readonly remoteAddress: IpAddress;
  readonly remotePort: number;
  /** Bytes buffered for sending (not yet acknowledged). */
  readonly writableLength: number;
  /** Bytes `write()` would accept now. */
  readonly writableSpace: number;
  /** Bytes available to `read()`. */
  readonly readableLength: number;
  /** Peer FIN received (and all data before it is in the receive buffer). */
  readonly readableEnded: boolean;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  setEvents(events: TcpConnectionEvents): void;
  /**
   * Queues bytes; returns how many were accepted (≤ data.length). The bytes are copied. When
   * fewer than offered are accepted, `writable` fires once there is room. Throws TcpError EPIPE
   * after shutdownWrite/close/abort or once the connection failed.
   */
  write(data: Uint8Array): number;
  /**
   * Takes up to `max` bytes from the receive buffer (one contiguous chunk; call again for more),
   * or null when empty. Consumption reopens the advertised window.
   */
  read(max?: number): Uint8Array | null;
  /** Sends FIN after the queued data (half-close). */
  shutdownWrite(): void;
  /** Graceful close (FIN); with unread received data, RST instead (RFC 1122 §4.2.2.13). */
  close(): void;
  /** Sends RST and forgets the connection at once. */
  abort(): void;
  setNoDelay(noDelay: boolean): void;
  /** Keep-alive probes after `initialDelayMs` idle (0 keeps the previous delay), 1 s apart, 10 of them. */
  setKeepAlive(enable: boolean, initialDelayMs?: number): void;
}

export interface TcpListenOptions {
  backlog?: number;
}

export interface TcpListener {
  readonly address: IpAddress | null;
  readonly port: number;
  close(): void;
}

/**
 * What the IP layer learnt from an ICMP / ICMPv6 error quoting one of our segments (the errno of
 * Linux icmp_err_convert / icmpv6_err_convert). `EMSGSIZE` with `mtu` is frag-needed / Packet
 * Too Big: a path-MTU update, never an error. Other codes abort a connection still in its
 * handshake; on an established one they are kept as a soft error, reported instead of ETIMEDOUT.
 */
export interface TcpIcmpError {
  code: TcpIcmpErrorCode;
  fatal: boolean;
  mtu?: number;
}

export type TcpIcmpErrorCode =
  | "ECONNREFUSED"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "EACCES"
  | "EPROTO"
  | "EHOSTDOWN"
  | "EMSGSIZE"
  | "ENOPROTOOPT"
  | "EOPNOTSUPP";

/** Closed set of reasons an inbound segment is dropped (counted in `TcpLayer.drops`). */
export type TcpDropReason =
  | "malformed"
  | "no-socket"
  | "out-of-window"
  | "paws"
  | "bad-ack"
  | "bad-rst"
  | "bad-syn"
  | "backlog-full"
  | "state";

/** Event counters of a TcpLayer (all connections). */
export interface TcpStats {
  segmentsIn: number;
  segmentsOut: number;
  retransmittedSegments: number;
  /** Retransmission-timer expiries with data outstanding (RFC 6298 §5.5). */
  timeouts: number;
  /** Entries into fast recovery (RFC 6675 / RFC 6582). */
  fastRecoveries: number;
  /** Tail loss probes sent (RFC 8985 §7.3), and those that repaired a lost tail (§7.4.2). */
  lossProbes: number;
  lossProbeRecoveries: number;
  challengeAcks: number;
  connectionsOpened: number;
  resetsSent: number;
}
