/**
 * A `net.Socket`-shaped Duplex on a netstack TCP connection (reference netstack.md §6.1): good
 * enough to be `http.request`'s createConnection, `tls.connect`'s socket and undici's connect.
 *
 * Backpressure both ways: `_write` completes only once TCP's bounded send buffer took every
 * byte (TCP's `writable` event resumes it); data is read from TCP only while the readable side
 * wants more (`_read`), so a slow reader closes the advertised window and slows the sender.
 */
import { Duplex } from "node:stream";
import { formatIp } from "../address.js";
import type { TcpConnection, TcpError } from "../tcp/index.js";
import type { StackDriver } from "./driver.js";
import { type ErrnoError, errnoException } from "./errors.js";

export interface NetstackSocketOptions {
  /** As net.Socket: false (default) ends our side once the peer's FIN was read. */
  allowHalfOpen?: boolean;
}

type Family = "IPv4" | "IPv6";

export class NetstackSocket extends Duplex {
  /** True from connect() until the handshake completes or fails. */
  connecting = false;
  #driver: StackDriver;
  #conn: TcpConnection | null = null;
  #wantRead = false;
  #peerEnded = false;
  #pendingWrite: { data: Uint8Array; cb: (err?: Error | null) => void } | null = null;
  #pendingFinal: ((err?: Error | null) => void) | null = null;
  #timeoutMs = 0;
  #idleTimer: NodeJS.Timeout | null = null;
  #noDelay = true;
  #keepAlive: [boolean, number] | null = null;
  /** What connect() aimed at, for error messages before a connection exists. */
  #target: { address: string; port: number } | null = null;

  constructor(driver: StackDriver, opts: NetstackSocketOptions = {}) {
    super({ allowHalfOpen: opts.allowHalfOpen ?? false, emitClose: true, autoDestroy: true });
    this.#driver = driver;
  }

  // --- addresses, state ----------------------------------------------------------------------

  get remoteAddress(): string | undefined {
    return this.#conn ? formatIp(this.#conn.remoteAddress) : undefined;
  }
  get remotePort(): number | undefined {
    return this.#conn?.remotePort;
  }
  get remoteFamily(): Family | undefined {
    return this.#conn ? family(this.#conn.remoteAddress) : undefined;
  }
  get localAddress(): string | undefined {
    return this.#conn ? formatIp(this.#conn.localAddress) : undefined;
  }
  get localPort(): number | undefined {
    return this.#conn?.localPort;
  }
  get localFamily(): Family | undefined {
    return this.#conn ? family(this.#conn.localAddress) : undefined;
  }
  get bytesRead(): number {
    return this.#conn?.bytesRead ?? 0;
  }
  get bytesWritten(): number {
    return this.#conn?.bytesWritten ?? 0;
  }
  get pending(): boolean {
    return this.#conn === null || this.connecting;
  }
  get readyState(): "opening" | "open" | "readOnly" | "writeOnly" | "closed" {
    if (this.connecting) return "opening";
    if (this.destroyed || this.#conn === null) return "closed";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  address(): { address: string; family: Family; port: number } | Record<string, never> {
    if (this.#conn === null) return {};
    return {
      address: formatIp(this.#conn.localAddress),
      family: family(this.#conn.localAddress),
      port: this.#conn.localPort,
    };
  }

  // --- options net.Socket callers rely on ----------------------------------------------------

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    this.#conn?.setNoDelay(noDelay);
    return this;
  }

  /** Keep-alive probes after `initialDelay` ms idle, 1 s apart, 10 of them (libuv's, Node ≥ 13.12). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = [enable, initialDelay];
    this.#conn?.setKeepAlive(enable, initialDelay);
    this.#driver.kick();
    return this;
  }

  /** 'timeout' after `ms` without activity (0 disables); like Node it only notifies. */
  setTimeout(ms: number, cb?: () => void): this {
    this.#timeoutMs = ms;
    if (cb) {
      if (ms === 0) this.off("timeout", cb);
      else this.once("timeout", cb);
    }
    this.#touch();
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  /** Sends a RST and destroys the socket (Node ≥ 16.17). */
  resetAndDestroy(): this {
    if (this.#conn !== null) {
      this.#conn.abort();
      this.#driver.kick();
    }
    this.destroy();
    return this;
  }

  // --- wiring to the TCP connection ----------------------------------------------------------

  /** @internal Records the target of a connect in progress (for errors and 'lookup'). */
  setTarget(address: string, port: number): void {
    this.#target = { address, port };
    this.connecting = true;
  }

  /** @internal Binds this socket to a TCP connection (connecting, or accepted and established). */
  attach(conn: TcpConnection, established: boolean): void {
    this.#conn = conn;
    conn.setNoDelay(this.#noDelay);
    if (this.#keepAlive) conn.setKeepAlive(this.#keepAlive[0], this.#keepAlive[1]);
    conn.setEvents({
      connected: () => {
        this.connecting = false;
        this.#touch();
        this.emit("connect");
        this.emit("ready");
        this.#flushPendingWrite();
        if (this.#pendingFinal) this.#final(this.#pendingFinal);
      },
      readable: () => this.#pump(),
      writable: () => this.#flushPendingWrite(),
      end: () => {
        this.#peerEnded = true;
        this.#pump();
      },
      close: (err) => this.#onClose(err),
    });
    if (established) this.connecting = false;
    this.#driver.kick();
  }

  #onClose(err: TcpError | undefined): void {
    this.#clearIdle();
    const wasConnecting = this.connecting;
    this.connecting = false;
    if (err !== undefined) {
      const addr = this.remoteAddress ?? this.#target?.address;
      const port = this.remotePort ?? this.#target?.port;
      this.destroy(
        errnoException(err.code, err.message, wasConnecting ? "connect" : "read", addr, port),
      );
      return;
    }
    // Orderly close: whatever is still buffered was read by #pump; end the readable side.
    this.#peerEnded = true;
    this.#pump();
    if (this.#pendingWrite) {
      const { cb } = this.#pendingWrite;
      this.#pendingWrite = null;
      cb(errnoException("EPIPE", "connection closed", "write"));
    }
  }

  /**
   * Moves received data into the readable side while it wants more (the receive-side
   * backpressure). Segments waiting together are joined into chunks of up to COALESCE bytes
   * first, as the kernel's GRO and socket receive queue hand node:net large reads: one 'data'
   * event per 64 KiB instead of one per 1,368-byte segment.
   */
  #pump(): void {
    const conn = this.#conn;
    if (conn === null || !this.#wantRead) return;
    while (conn.readableLength > 0) {
      this.#touch();
      const more = this.push(takeChunk(conn));
      if (!more) {
        this.#wantRead = false;
        break;
      }
    }
    this.#driver.kick();
    if (this.#peerEnded && conn.readableLength === 0 && !this.readableEnded) this.push(null);
  }

  override _read(): void {
    this.#wantRead = true;
    this.#pump();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#pendingWrite = { data: chunk, cb };
    this.#touch();
    if (!this.connecting) this.#flushPendingWrite();
  }

  /** Offers the pending chunk to TCP; completes the write once every byte was accepted. */
  #flushPendingWrite(): void {
    const p = this.#pendingWrite;
    const conn = this.#conn;
    if (p === null || conn === null || this.connecting) return;
    let n: number;
    try {
      n = conn.write(p.data);
    } catch (err) {
      this.#pendingWrite = null;
      p.cb(errnoException((err as TcpError).code ?? "EPIPE", String(err), "write"));
      return;
    }
    this.#driver.kick();
    if (n === p.data.length) {
      this.#pendingWrite = null;
      p.cb();
    } else {
      p.data = p.data.subarray(n);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.connecting || this.#conn === null) {
      this.#pendingFinal = cb;
      return;
    }
    this.#final(cb);
  }

  #final(cb: (err?: Error | null) => void): void {
    this.#pendingFinal = null;
    try {
      this.#conn?.shutdownWrite();
    } catch {
      // Already closed by the peer: nothing left to shut down.
    }
    this.#driver.kick();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#clearIdle();
    const conn = this.#conn;
    if (conn !== null && conn.state !== "CLOSED") {
      // Unread or unsent data would be lost, or an error: RST (RFC 1122 §4.2.2.13); else a
      // graceful close finishing in the background like a kernel orphan.
      if (
        err !== null ||
        conn.readableLength > 0 ||
        (!this.writableFinished && conn.writableLength > 0)
      )
        conn.abort();
      else conn.close();
      this.#driver.kick();
    }
    cb(err);
  }

  #touch(): void {
    if (this.#timeoutMs <= 0) {
      this.#clearIdle();
      return;
    }
    if (this.#idleTimer) {
      this.#idleTimer.refresh();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      this.emit("timeout");
    }, this.#timeoutMs);
    this.#idleTimer.unref();
  }

  #clearIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }
}

/** Largest chunk the readable side gets in one push (net.Socket reads 64 KiB at a time). */
const COALESCE = 64 * 1024;

/** Up to COALESCE bytes of in-order data: the segment itself when alone, else a joined copy. */
function takeChunk(conn: TcpConnection): Buffer {
  const first = conn.read(COALESCE) as Uint8Array;
  const total = Math.min(COALESCE, first.length + conn.readableLength);
  if (total === first.length) return Buffer.from(first.buffer, first.byteOffset, first.length);
  const out = Buffer.allocUnsafe(total);
  out.set(first, 0);
  let n = first.length;
  while (n < total) {
    const c = conn.read(total - n) as Uint8Array;
    out.set(c, n);
    n += c.length;
  }
  return out;
}

function family(a: Uint8Array): Family {
  return a.length === 4 ? "IPv4" : "IPv6";
}

export type { ErrnoError };
