/**
 * A Bind on the batched-UDP addon: one recvmmsg per wakeup, UDP GRO on receive (the kernel hands
 * over runs of same-size datagrams as one buffer), sendmmsg with UDP GSO for runs of same-size
 * datagrams to one endpoint (reference §1.6; wireguard-go conn/bind_std.go). Same contract as
 * UdpBind: one dual-stack socket, IPv4 peers reported as family 4, 7 MiB socket buffers.
 *
 * Sends are queued and flushed in a microtask, i.e. once the current callback (a TUN batch, a
 * datagram batch, a timer) has run to completion: a TUN batch of 128 packets becomes one or two
 * sendmmsg calls instead of 128 sendto's.
 *
 * A full socket send buffer (EAGAIN) loses nothing by itself: what did not go waits, in order,
 * and goes when the socket is writable again — as a Go write parks on the netpoller in
 * wireguard-go, and the kernel's WireGuard queues behind its qdisc. The wait is bounded
 * ({@link SEND_BACKLOG_MAX} datagrams); past it new datagrams are dropped and counted as
 * `sendDrops.bufferFull`, apart from `sendErrors` (unreachable, EPERM, bad endpoint).
 *
 * The addon drains the socket and sorts what it read before any JavaScript runs (native/
 * classify.h, issue #11): transport data first, then handshake messages with a mac2, then the
 * rest under a per-source token bucket and a per-batch budget; a flood is shed there, counted in
 * `stats()`. A batch whose handshake budget overflowed is reported to `onOverload` handlers.
 *
 * Received datagrams are views into the receive buffer, lent for the duration of the handler
 * call (see ReceiveHandler): the Engine decrypts into its own memory and copies what it keeps.
 */
import type { Endpoint } from "@wirespan/noise";
import {
  type NativeUdpAddon,
  type NativeUdpPoller,
  type NativeUdpStats,
  nativeUdp,
} from "@wirespan/tun/internal";
import { ADDR_RECORD, BinaryEndpoint, encodeEndpoint } from "./address-record.js";
import {
  type Bind,
  BindError,
  type BindSendStats,
  type PreparedBind,
  type ReceiveHandler,
} from "./bind.js";

/**
 * Socket buffers. Receive: larger than wireguard-go's 7 MiB (conn/bind_std.go) so a burst waits
 * in the kernel instead of being dropped there while JavaScript runs; the classifier drains it
 * at the kernel's rate.
 */
const SOCKET_BUFFER_SIZE = 7 << 20;
const RECEIVE_BUFFER_SIZE = 32 << 20;
/** Receive slots per recvmmsg; each holds a GRO super-datagram of up to 64 KiB. */
const RECV_BATCH = 32;
const RECV_SLOT = 65_536;
/** Handshake messages per batch (the classifier's budget) and the size of their slots. */
const SMALL_SLOTS = 64;
const SMALL_SLOT = 256;
const ENTRIES = RECV_BATCH + SMALL_SLOTS;
/** onRead flag: handshake messages were shed for lack of room in the batch (udp.cc). */
const FLAG_SHED = 1;
const RESOLVED = Promise.resolve();
/** Queued datagrams that force a flush before the microtask. */
const SEND_QUEUE_MAX = 512;
/**
 * Datagrams that may wait for a full send buffer to drain: about 6 MB of full-size packets,
 * as much again as the socket's own 7 MiB buffer holds (a burst twice the buffer is absorbed).
 */
export const SEND_BACKLOG_MAX = 4096;
/** onRead flag: the socket is writable again (udp.cc kFlagWritable). */
const FLAG_WRITABLE = 4;

export interface BatchUdpBindOptions {
  readonly host?: string;
  readonly family?: 4 | 6 | "dual";
  /** UDP GSO on send; default on unless WIRESPAN_UDP_GSO=0. */
  readonly gso?: boolean;
  /** UDP GRO on receive; default on unless WIRESPAN_UDP_GRO=0. */
  readonly gro?: boolean;
}

interface Live {
  poller: NativeUdpPoller;
  fd: number;
  port: number;
  family: 4 | 6;
}

function errCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "EIO";
}

export class BatchUdpBind implements Bind {
  private live: Live | null = null;
  private fwmark = 0;
  private handler: ReceiveHandler = () => {};
  private readonly addon: NativeUdpAddon;
  private readonly buffer = new ArrayBuffer(RECV_BATCH * RECV_SLOT + SMALL_SLOTS * SMALL_SLOT);
  private readonly meta = new Int32Array(ENTRIES * 4);
  private readonly addrs = new Uint8Array(ENTRIES * ADDR_RECORD);
  private readonly overloadHandlers: Array<() => void> = [];
  /** The last sender seen, reused while the address record repeats (one peer: always). */
  private lastFrom: Endpoint | null = null;
  private readonly lastRec = new Uint8Array(ADDR_RECORD);
  private queue: Uint8Array[] = [];
  private queueTo: Endpoint[] = [];
  private flushQueued = false;
  private readonly records = new WeakMap<Endpoint, Uint8Array | null>();
  /** Receives arrive a recvmmsg batch per callback (see Bind.batched). */
  readonly batched = true;
  /** Send failures (unreachable, unparseable endpoint, EPERM from a firewall), counted. */
  sendErrors = 0;
  /** Datagrams dropped because the send buffer stayed full past {@link SEND_BACKLOG_MAX}. */
  sendDropsBufferFull = 0;
  /** Datagrams that had to wait for the send buffer (sent late, not lost). */
  sendDeferred = 0;
  /** Datagrams waiting for the socket to be writable, in order; empty when not blocked. */
  private backlog: Uint8Array[] = [];
  private backlogTo: Endpoint[] = [];
  /** Datagrams received (after GRO splitting). */
  received = 0;

  /** Throws when the addon is unavailable; check `BatchUdpBind.available()` first. */
  constructor(private readonly opts: BatchUdpBindOptions = {}) {
    const addon = nativeUdp();
    if (addon === null) throw new BindError("ENOSYS", "the batched-UDP addon is not built");
    this.addon = addon;
  }

  static available(): boolean {
    return nativeUdp() !== null;
  }

  get port(): number {
    return this.live?.port ?? 0;
  }

  /** Datagrams waiting now for the send buffer to drain. */
  get sendWaiting(): number {
    return this.backlog.length;
  }

  /** What happened to datagrams that did not simply go (Bind.sendStats). */
  sendStats(): BindSendStats {
    return {
      errors: this.sendErrors,
      bufferFull: this.sendDropsBufferFull,
      deferred: this.sendDeferred,
    };
  }

  /** Counters of the live socket (null when closed). */
  stats(): NativeUdpStats | null {
    return this.live?.poller.stats() ?? null;
  }

  onReceive(handler: ReceiveHandler): void {
    this.handler = handler;
  }

  onOverload(handler: () => void): void {
    this.overloadHandlers.push(handler);
  }

  private openSocket(family: 4 | 6, port: number, host: string, v6only: boolean): [number, number] {
    try {
      return this.addon.openUdp(
        family,
        port,
        host,
        v6only,
        SOCKET_BUFFER_SIZE,
        RECEIVE_BUFFER_SIZE,
      );
    } catch (err) {
      throw new BindError(errCode(err), `cannot bind udp${family} port ${port}: ${String(err)}`);
    }
  }

  async prepare(port: number): Promise<PreparedBind> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new BindError("EINVAL", `invalid port ${port}`);
    }
    const family = this.opts.family ?? "dual";
    let fd: number;
    let bound: number;
    let fam: 4 | 6;
    if (family === 4) {
      [fd, bound] = this.openSocket(4, port, this.opts.host ?? "", false);
      fam = 4;
    } else {
      try {
        [fd, bound] = this.openSocket(6, port, this.opts.host ?? "", family === 6);
        fam = 6;
      } catch (err) {
        const code = err instanceof BindError ? err.code : "";
        if (family === 6 || (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL")) throw err;
        [fd, bound] = this.openSocket(4, port, "", false);
        fam = 4;
      }
    }
    let mark = this.fwmark;
    if (mark !== 0) {
      try {
        this.addon.setSocketMark(fd, mark);
      } catch (err) {
        closeFd(this.addon, fd, fam);
        throw new BindError(errCode(err), `fwmark not applied: ${String(err)}`);
      }
    }
    let done = false;
    return {
      port: bound,
      setMark: (m: number) => {
        if (done) throw new BindError("EBADF", "prepared socket already committed or aborted");
        try {
          this.addon.setSocketMark(fd, m);
        } catch (err) {
          throw new BindError(errCode(err), `fwmark not applied: ${String(err)}`);
        }
        mark = m;
      },
      commit: () => {
        if (done) return;
        done = true;
        this.fwmark = mark;
        const poller = new this.addon.UdpPoller(
          fd,
          fam,
          this.buffer,
          RECV_SLOT,
          RECV_BATCH,
          this.meta,
          this.addrs,
          (n) => this.onRead(n),
          SMALL_SLOTS,
        );
        const env = process.env;
        if ((this.opts.gro ?? env.WIRESPAN_UDP_GRO !== "0") === true) poller.enableGro();
        poller.setGso(this.opts.gso ?? env.WIRESPAN_UDP_GSO !== "0");
        const old = this.live;
        if (old) this.flush();
        this.live = { poller, fd, port: bound, family: fam };
        poller.start();
        old?.poller.close();
        // What waited for the old socket's buffer goes out of the new one.
        if (this.backlog.length > 0) this.onWritable();
      },
      abort: () => {
        if (done) return;
        done = true;
        closeFd(this.addon, fd, fam);
      },
    };
  }

  async open(port: number): Promise<number> {
    const p = await this.prepare(port);
    p.commit();
    return p.port;
  }

  setMark(mark: number): void {
    const l = this.live;
    if (l) {
      try {
        this.addon.setSocketMark(l.fd, mark);
      } catch (err) {
        throw new BindError(errCode(err), `fwmark not applied: ${String(err)}`);
      }
    }
    this.fwmark = mark;
  }

  send(to: Endpoint, data: Uint8Array): void {
    // What can never go out is counted at once, as node:dgram's bind does.
    const live = this.live;
    if (live === null || (live.family === 4 && to.family === 6) || this.recordOf(to) === null) {
      this.sendErrors++;
      return;
    }
    this.queue.push(data);
    this.queueTo.push(to);
    if (this.queue.length >= SEND_QUEUE_MAX) {
      this.flush();
    } else if (!this.flushQueued) {
      this.flushQueued = true;
      // A resolved promise's continuation, not queueMicrotask: Node wraps each queueMicrotask
      // callback in a new AsyncResource (async_hooks bookkeeping), several times the cost of
      // the continuation on this per-packet path (bench/RESULTS.md, idle ping RTT).
      RESOLVED.then(this.flushTask);
    }
  }

  private readonly flushTask = () => {
    this.flushQueued = false;
    this.flush();
  };

  /** Sends everything queued: one addon call per run of datagrams to the same endpoint. */
  flush(): void {
    const q = this.queue;
    const to = this.queueTo;
    if (q.length === 0) return;
    this.queue = [];
    this.queueTo = [];
    if (this.live === null) {
      this.sendErrors += q.length;
      return;
    }
    if (this.backlog.length > 0) {
      this.enqueueBacklog(q, to, 0); // behind what already waits, in order
      return;
    }
    this.sendFrom(q, to);
  }

  /**
   * Sends `q` in runs; on a full socket buffer the rest goes to the backlog and writability is
   * watched. True when everything went (or failed for good).
   */
  private sendFrom(q: Uint8Array[], to: Endpoint[], retry = false): boolean {
    const live = this.live;
    const n = q.length;
    if (live === null) {
      this.sendErrors += n;
      return true;
    }
    let i = 0;
    while (i < n) {
      const e = to[i];
      let j = i + 1;
      while (j < n && (to[j] === e || sameEndpoint(to[j], e))) j++;
      const rec = this.recordOf(e);
      if (rec === null || (live.family === 4 && e.family === 6)) {
        this.sendErrors += j - i;
        i = j;
        continue;
      }
      const r = live.poller.send(q, i, j - i, rec);
      const failed = Math.floor(r / 65536);
      const done = (r % 65536) + failed;
      this.sendErrors += failed;
      if (done < j - i) {
        // EAGAIN: the kernel holds as much as it will; the rest waits for writability.
        this.enqueueBacklog(q, to, i + done, retry);
        live.poller.watchWritable(true);
        return false;
      }
      i = j;
    }
    return true;
  }

  /**
   * Appends q[from..] to the backlog; what does not fit is dropped and counted. `again`: these
   * waited before (already counted as deferred).
   */
  private enqueueBacklog(q: Uint8Array[], to: Endpoint[], from: number, again = false): void {
    const room = SEND_BACKLOG_MAX - this.backlog.length;
    const take = Math.min(room, q.length - from);
    for (let k = from; k < from + take; k++) {
      this.backlog.push(q[k]);
      this.backlogTo.push(to[k]);
    }
    if (!again) this.sendDeferred += take;
    this.sendDropsBufferFull += q.length - from - take;
  }

  /** The socket is writable again: send what waited; stop watching once it all went. */
  private onWritable(): void {
    const q = this.backlog;
    const to = this.backlogTo;
    this.backlog = [];
    this.backlogTo = [];
    if (this.sendFrom(q, to, true)) this.live?.poller.watchWritable(false);
  }

  /** The endpoint's address record, cached per endpoint object (the Engine reuses them). */
  private recordOf(e: Endpoint): Uint8Array | null {
    let rec = this.records.get(e);
    if (rec === undefined) {
      rec = encodeEndpoint(e);
      this.records.set(e, rec);
    }
    return rec;
  }

  private endpointAt(slot: number): Endpoint {
    const a = this.addrs;
    const off = slot * ADDR_RECORD;
    const last = this.lastRec;
    let same = this.lastFrom !== null;
    for (let k = 0; same && k < ADDR_RECORD; k++) if (a[off + k] !== last[k]) same = false;
    if (same && this.lastFrom !== null) return this.lastFrom;
    last.set(a.subarray(off, off + ADDR_RECORD));
    const family = a[off] === 4 ? 4 : 6;
    const ip = a.slice(off + 4, off + (family === 4 ? 8 : 20));
    const e = new BinaryEndpoint(ip, (a[off + 2] << 8) | a[off + 3], family);
    this.lastFrom = e;
    return e;
  }

  private deliver(off: number, len: number, from: Endpoint): void {
    this.received++;
    this.handler(new Uint8Array(this.buffer, off, len), from);
  }

  private onRead(value: number): void {
    if (((value >>> 16) & FLAG_WRITABLE) !== 0) {
      this.onWritable();
      return;
    }
    const n = value & 0xffff;
    const meta = this.meta;
    for (let i = 0; i < n; i++) {
      const base = meta[4 * i];
      const len = meta[4 * i + 1];
      const seg = meta[4 * i + 2];
      const from = this.endpointAt(i);
      if (seg === 0) {
        this.deliver(base, len, from);
      } else {
        for (let off = 0; off < len; off += seg)
          this.deliver(base + off, Math.min(seg, len - off), from);
      }
    }
    if (((value >>> 16) & FLAG_SHED) !== 0) for (const h of this.overloadHandlers) h();
    // Answers produced while handling this batch (keepalives, handshake responses) go now.
    this.flush();
  }

  async close(): Promise<void> {
    this.flush();
    // What still waits for a full buffer is lost with the socket.
    this.sendDropsBufferFull += this.backlog.length;
    this.backlog = [];
    this.backlogTo = [];
    const l = this.live;
    this.live = null;
    l?.poller.close();
  }
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && a.address === b.address && a.family === b.family;
}

/** Closes a socket that never got a poller (an aborted prepare). */
function closeFd(addon: NativeUdpAddon, fd: number, family: 4 | 6): void {
  // A poller owns and closes its fd; creating one just to close it keeps close() in one place.
  const p = new addon.UdpPoller(
    fd,
    family,
    new ArrayBuffer(64 + 4 * SMALL_SLOT),
    64,
    1,
    new Int32Array(4 * 5),
    new Uint8Array(5 * ADDR_RECORD),
    () => {},
    4,
  );
  p.close();
}
