/**
 * The default Bind: one dual-stack UDP socket (`udp6` without IPV6_V6ONLY), so IPv4 and IPv6
 * peers share a port the way wireguard-go's StdNetBind does with two. IPv4 peers arrive as
 * `::ffff:a.b.c.d` and are reported as family 4; sending to them maps back. Where IPv6 is
 * unavailable the bind falls back to plain `udp4`.
 *
 * Socket buffers ask for 7 MiB like wireguard-go (`socketBufferSize = 7 << 20`, reference §1.6);
 * without CAP_NET_ADMIN's *BUFFORCE the kernel caps them at net.core.{r,w}mem_max.
 *
 * Where the batched-UDP addon is built (Linux), a UdpBind hands everything to a BatchUdpBind
 * (recvmmsg/sendmmsg, UDP GSO/GRO: several times fewer syscalls and JS↔C++ crossings per packet,
 * bench/RESULTS.md); `native: false` or WIRESPAN_NATIVE_UDP=0 keeps node:dgram.
 */
import { createSocket, type Socket } from "node:dgram";
import type { Endpoint } from "@wirespan/noise";
import { BatchUdpBind } from "./batch-udp-bind.js";
import {
  type Bind,
  BindError,
  type BindSendStats,
  type PreparedBind,
  type ReceiveHandler,
} from "./bind.js";
import { socketFd } from "./socket-fd.js";
import { socketMarkSetter } from "./socket-mark.js";

/** wireguard-go's socketBufferSize (conn/bind_std.go). */
const SOCKET_BUFFER_SIZE = 7 << 20;
const V4_MAPPED = "::ffff:";

export interface UdpBindOptions {
  /** Address to bind; default all addresses (`::` dual-stack, or `0.0.0.0`). */
  readonly host?: string;
  /** Force one family; default dual-stack with IPv4 fallback. */
  readonly family?: 4 | 6 | "dual";
  /** Use the batched-UDP addon when it is built (default true). */
  readonly native?: boolean;
}

export class UdpBind implements Bind {
  private socket: Socket | null = null;
  private dual = false;
  private fwmark = 0;
  private handler: ReceiveHandler = () => {};
  /** Send failures (ENETUNREACH, EPERM from a firewall, …), counted rather than thrown. */
  get sendErrors(): number {
    return this.batch ? this.batch.sendErrors : this.dgramSendErrors;
  }
  /**
   * Sends that failed, waited for a full buffer, or were dropped for it. node:dgram queues a
   * send on EAGAIN itself (libuv waits for writability), so only the batched bind defers or drops.
   */
  sendStats(): BindSendStats {
    if (this.batch) return this.batch.sendStats();
    return { errors: this.dgramSendErrors, bufferFull: 0, deferred: 0 };
  }
  /** Datagrams received. */
  get received(): number {
    return this.batch ? this.batch.received : this.dgramReceived;
  }
  private dgramSendErrors = 0;
  private dgramReceived = 0;
  private readonly onSendDone = (err: Error | null) => {
    if (err) this.dgramSendErrors++;
  };

  /** The batched implementation everything is delegated to, when available. */
  private readonly batch: BatchUdpBind | null;

  constructor(private readonly opts: UdpBindOptions = {}) {
    this.batch =
      opts.native !== false && BatchUdpBind.available()
        ? new BatchUdpBind({ host: opts.host, family: opts.family })
        : null;
  }

  /** Whether the batched-UDP addon carries this bind's traffic. */
  get batched(): boolean {
    return this.batch !== null;
  }

  get port(): number {
    if (this.batch) return this.batch.port;
    try {
      return this.socket?.address().port ?? 0;
    } catch {
      return 0;
    }
  }

  /** Overload reports of the batched bind's classifier (node:dgram has none). */
  onOverload(handler: () => void): void {
    this.batch?.onOverload(handler);
  }

  onReceive(handler: ReceiveHandler): void {
    if (this.batch) this.batch.onReceive(handler);
    this.handler = handler;
  }

  async prepare(port: number): Promise<PreparedBind> {
    if (this.batch) return this.batch.prepare(port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new BindError("EINVAL", `invalid port ${port}`);
    }
    const family = this.opts.family ?? "dual";
    let socket: Socket;
    let dual = false;
    if (family === 4) {
      socket = await bindSocket("udp4", this.opts.host ?? "0.0.0.0", port);
    } else {
      try {
        socket = await bindSocket("udp6", this.opts.host ?? "::", port, family === 6);
        dual = family === "dual" && (this.opts.host ?? "::") === "::";
      } catch (err) {
        // Only a missing IPv6 stack falls back; a busy port is a busy port.
        const code = err instanceof BindError ? err.code : "";
        if (family === 6 || (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL")) throw err;
        socket = await bindSocket("udp4", "0.0.0.0", port);
      }
    }
    let mark = this.fwmark;
    if (mark !== 0) {
      try {
        applyMark(socket, mark);
      } catch (err) {
        // A missing native helper was already reported when the mark was set; a real failure is not.
        if (!(err instanceof BindError && err.code === "ENOSYS")) {
          closeQuietly(socket);
          throw err;
        }
      }
    }
    let done = false;
    return {
      port: socket.address().port,
      setMark: (m: number) => {
        if (done) throw new BindError("EBADF", "prepared socket already committed or aborted");
        try {
          applyMark(socket, m);
        } catch (err) {
          // As setMark: without the native helper the mark is remembered and the error reported.
          if (err instanceof BindError && err.code === "ENOSYS") mark = m;
          throw err;
        }
        mark = m;
      },
      commit: () => {
        if (done) return;
        done = true;
        this.fwmark = mark;
        const old = this.socket;
        this.socket = socket;
        this.dual = dual;
        socket.on("message", (msg, rinfo) => {
          this.dgramReceived++;
          let address = rinfo.address;
          let fam: 4 | 6 = rinfo.family === "IPv4" ? 4 : 6;
          if (fam === 6 && address.startsWith(V4_MAPPED) && address.includes(".")) {
            address = address.slice(V4_MAPPED.length);
            fam = 4;
          }
          this.handler(msg, { address, port: rinfo.port, family: fam });
        });
        if (old) closeQuietly(old);
      },
      abort: () => {
        if (done) return;
        done = true;
        closeQuietly(socket);
      },
    };
  }

  async open(port: number): Promise<number> {
    if (this.batch) return this.batch.open(port);
    const p = await this.prepare(port);
    p.commit();
    return p.port;
  }

  setMark(mark: number): void {
    if (this.batch) {
      this.batch.setMark(mark);
      return;
    }
    const s = this.socket;
    if (s) {
      try {
        applyMark(s, mark);
      } catch (err) {
        // Without the native helper the mark is still remembered (and reported by the caller).
        if (err instanceof BindError && err.code === "ENOSYS") this.fwmark = mark;
        throw err;
      }
    }
    this.fwmark = mark;
  }

  send(to: Endpoint, data: Uint8Array): void {
    if (this.batch) {
      this.batch.send(to, data);
      return;
    }
    const s = this.socket;
    if (!s) {
      this.dgramSendErrors++;
      return;
    }
    let address = to.address;
    if (to.family === 4) {
      if (this.dual) address = V4_MAPPED + address;
    } else if (!this.dual && this.opts.family !== 6) {
      this.dgramSendErrors++; // IPv6 peer on an IPv4-only socket
      return;
    }
    try {
      s.send(data, to.port, address, this.onSendDone);
    } catch {
      this.dgramSendErrors++;
    }
  }

  async close(): Promise<void> {
    if (this.batch) return this.batch.close();
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

function bindSocket(type: "udp4" | "udp6", host: string, port: number, ipv6Only = false) {
  return new Promise<Socket>((resolve, reject) => {
    let socket: Socket;
    try {
      socket = createSocket({
        type,
        ipv6Only,
        recvBufferSize: SOCKET_BUFFER_SIZE,
        sendBufferSize: SOCKET_BUFFER_SIZE,
      });
    } catch (err) {
      reject(new BindError(errCode(err), String(err)));
      return;
    }
    const onError = (err: Error) => {
      closeQuietly(socket);
      reject(new BindError(errCode(err), `cannot bind ${type} port ${port}: ${err.message}`));
    };
    socket.once("error", onError);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off("error", onError);
      // Later socket errors (ICMP-induced ECONNREFUSED and the like) must never crash the
      // daemon; sends report through their callback.
      socket.on("error", () => {});
      resolve(socket);
    });
  });
}

function applyMark(socket: Socket, mark: number): void {
  const set = socketMarkSetter();
  if (!set) {
    if (mark === 0) return;
    throw new BindError(
      "ENOSYS",
      "fwmark not applied: the native UDP addon of @wirespan/tun is not available (WIRESPAN_NATIVE_UDP=0 or not built)",
    );
  }
  const fd = socketFd(socket);
  if (fd === null) throw new BindError("EBADF", "fwmark not applied: socket has no fd");
  try {
    set(fd, mark);
  } catch (err) {
    throw new BindError(errCode(err), `fwmark not applied: ${String(err)}`);
  }
}

function errCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "EIO";
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}
