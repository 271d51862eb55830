/**
 * A `node:dgram`-shaped UDP socket on the netstack: 'listening', 'message'(msg, rinfo),
 * 'connect', 'error', 'close'; bind/connect/send/close/address/remoteAddress (reference
 * netstack.md §6.2). Sends happen synchronously into the stack; callbacks run on a later tick
 * like Node's.
 */
import { EventEmitter } from "node:events";
import { formatIp, type IpAddress, parseIp } from "../address.js";
import { NetstackError } from "../errors.js";
import type { UdpSocket } from "../udp.js";
import type { StackDriver } from "./driver.js";
import { errnoException } from "./errors.js";

export interface RemoteInfo {
  address: string;
  family: "IPv4" | "IPv6";
  port: number;
  size: number;
}

type SendCallback = (err: Error | null, bytes?: number) => void;

export class NetstackDgramSocket extends EventEmitter {
  readonly type: "udp4" | "udp6";
  #driver: StackDriver;
  #sock: UdpSocket | null = null;
  #closed = false;

  constructor(driver: StackDriver, type: "udp4" | "udp6") {
    super();
    this.#driver = driver;
    this.type = type;
  }

  get #family(): 4 | 6 {
    return this.type === "udp4" ? 4 : 6;
  }

  /** bind([port][, address][, callback]) or bind({ port, address }[, callback]). */
  bind(...args: unknown[]): this {
    let port = 0;
    let address: string | undefined;
    let cb: (() => void) | undefined;
    const last = args[args.length - 1];
    if (typeof last === "function") cb = args.pop() as () => void;
    if (typeof args[0] === "object" && args[0] !== null) {
      const o = args[0] as { port?: number; address?: string };
      port = o.port ?? 0;
      address = o.address;
    } else {
      if (typeof args[0] === "number") port = args[0];
      if (typeof args[1] === "string") address = args[1];
    }
    if (this.#sock !== null)
      throw errnoException("ERR_SOCKET_ALREADY_BOUND", "Socket is already bound");
    this.#checkOpen();
    try {
      this.#bindNow(port, address);
    } catch (err) {
      process.nextTick(() => this.emit("error", err));
      return this;
    }
    if (cb) this.once("listening", cb);
    process.nextTick(() => this.emit("listening"));
    return this;
  }

  /** connect(port[, address][, callback]): fixes the peer; ICMP errors then surface as 'error'. */
  connect(port: number, address?: string | (() => void), cb?: () => void): void {
    if (typeof address === "function") {
      cb = address;
      address = undefined;
    }
    this.#checkOpen();
    const sock = this.#ensureBound();
    const addr = this.#parse(address ?? (this.#family === 4 ? "127.0.0.1" : "::1"));
    sock.connect(addr, port);
    if (cb) this.once("connect", cb);
    process.nextTick(() => this.emit("connect"));
  }

  disconnect(): void {
    this.#sock?.disconnect();
  }

  /**
   * send(msg[, offset, length][, port][, address][, callback]) like dgram; on a connected socket
   * port/address are omitted.
   */
  send(msg: Uint8Array | string | ReadonlyArray<Uint8Array | string>, ...rest: unknown[]): void {
    let cb: SendCallback | undefined;
    if (typeof rest[rest.length - 1] === "function") cb = rest.pop() as SendCallback;
    let data = toBytes(msg);
    // Node's rule: (offset, length, port[, address]) when three or more remain, or two numbers on a
    // connected socket; otherwise ([port][, address]).
    if (rest.length >= 3 || (rest.length === 2 && typeof rest[1] === "number")) {
      const offset = rest[0] as number;
      data = data.subarray(offset, offset + (rest[1] as number));
      rest = rest.slice(2);
    }
    const [port, address] = rest as [number | undefined, string | undefined];
    try {
      this.#checkOpen();
      const sock = this.#ensureBound();
      if (port === undefined) sock.send(data);
      else
        sock.send(data, this.#parse(address ?? (this.#family === 4 ? "127.0.0.1" : "::1")), port);
      this.#driver.kick();
    } catch (err) {
      const e =
        err instanceof NetstackError ? errnoException(err.code, err.message) : (err as Error);
      if (cb) process.nextTick(() => cb(e));
      else process.nextTick(() => this.emit("error", e));
      return;
    }
    if (cb) process.nextTick(() => cb(null, data.length));
  }

  address(): { address: string; family: "IPv4" | "IPv6"; port: number } {
    const s = this.#sock;
    if (s === null) throw errnoException("EBADF", "getsockname EBADF");
    const any = this.#family === 4 ? "0.0.0.0" : "::";
    return {
      address: s.localAddress ? formatIp(s.localAddress) : any,
      family: this.#family === 4 ? "IPv4" : "IPv6",
      port: s.localPort,
    };
  }

  remoteAddress(): { address: string; family: "IPv4" | "IPv6"; port: number } {
    const s = this.#sock;
    if (s?.remoteAddress == null)
      throw errnoException("ERR_SOCKET_DGRAM_NOT_CONNECTED", "Not connected");
    return {
      address: formatIp(s.remoteAddress),
      family: this.#family === 4 ? "IPv4" : "IPv6",
      port: s.remotePort,
    };
  }

  close(cb?: () => void): this {
    if (this.#closed) return this;
    this.#closed = true;
    this.#sock?.close();
    this.#sock = null;
    if (cb) this.once("close", cb);
    process.nextTick(() => this.emit("close"));
    return this;
  }

  // node:dgram options that have no meaning inside the tunnel stack; kept so callers work.
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  setBroadcast(_flag: boolean): void {}
  setTTL(ttl: number): number {
    return ttl;
  }
  setRecvBufferSize(_size: number): void {}
  setSendBufferSize(_size: number): void {}

  #bindNow(port: number, address: string | undefined): UdpSocket {
    const local =
      address === undefined || address === "0.0.0.0" || address === "::"
        ? null
        : this.#parse(address);
    const sock = this.#driver.stack.udpBind(this.#family, port, local);
    sock.handlers = {
      message: (data, from, fromPort) => {
        const rinfo: RemoteInfo = {
          address: formatIp(from),
          family: from.length === 4 ? "IPv4" : "IPv6",
          port: fromPort,
          size: data.length,
        };
        this.emit("message", Buffer.from(data), rinfo);
      },
      // Linux reports ICMP errors only on connected UDP sockets (without IP_RECVERR).
      error: (err) => {
        if (sock.remoteAddress !== null)
          this.emit("error", errnoException(err.code, "ICMP error", "recvmsg"));
      },
    };
    this.#sock = sock;
    return sock;
  }

  #ensureBound(): UdpSocket {
    if (this.#sock !== null) return this.#sock;
    const s = this.#bindNow(0, undefined);
    process.nextTick(() => this.emit("listening"));
    return s;
  }

  #parse(address: string): IpAddress {
    const a = parseIp(address);
    if (a === null || a.length !== (this.#family === 4 ? 4 : 16)) {
      throw errnoException("EINVAL", `${address} is not an IPv${this.#family} address`);
    }
    return a;
  }

  #checkOpen(): void {
    if (this.#closed) throw errnoException("ERR_SOCKET_DGRAM_NOT_RUNNING", "Not running");
  }
}

function toBytes(msg: Uint8Array | string | ReadonlyArray<Uint8Array | string>): Uint8Array {
  if (typeof msg === "string") return Buffer.from(msg);
  if (msg instanceof Uint8Array) return msg;
  return Buffer.concat(msg.map((m) => (typeof m === "string" ? Buffer.from(m) : m)));
}
