/**
 * `connect({ host, port })` like net.connect: returns the socket at once; a host name is
 * resolved through the tunnel's DNS ('lookup' event), then the TCP handshake runs ('connect').
 * Addresses are tried one after another, like wireguard-go's netstack DialContext.
 */
import { type IpAddress, parseIp } from "../address.js";
import { TcpError } from "../tcp/index.js";
import { now } from "./clock.js";
import type { LookupAddress } from "./dns.js";
import type { StackDriver } from "./driver.js";
import { errnoException } from "./errors.js";
import { NetstackSocket } from "./tcp-socket.js";

export interface NetstackConnectOptions {
  host?: string;
  port: number | string;
  /** 4 or 6 restricts name resolution. */
  family?: 0 | 4 | 6;
  /** Source address (one of the stack's); default the first of the destination's family. */
  localAddress?: string;
  localPort?: number;
  allowHalfOpen?: boolean;
  /** Default true (no Nagle), as undici and Node's http do for themselves. */
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Idle timeout in ms ('timeout' event), as socket.setTimeout. */
  timeout?: number;
}

export type Resolver = (host: string, family: 0 | 4 | 6) => Promise<LookupAddress[]>;

export function connectSocket(
  driver: StackDriver,
  resolve: Resolver,
  opts: NetstackConnectOptions,
  listener?: () => void,
): NetstackSocket {
  const sock = new NetstackSocket(driver, { allowHalfOpen: opts.allowHalfOpen });
  const port = Number(opts.port);
  const host = opts.host ?? "localhost";
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw errnoException(
      "ERR_SOCKET_BAD_PORT",
      `Port should be >= 1 and < 65536. Received ${String(opts.port)}.`,
    );
  }
  if (listener) sock.once("connect", listener);
  sock.setNoDelay(opts.noDelay ?? true);
  if (opts.keepAlive) sock.setKeepAlive(true, opts.keepAliveInitialDelay ?? 0);
  if (opts.timeout) sock.setTimeout(opts.timeout);
  sock.setTarget(host, port);
  const literal = parseIp(host);
  const start = async () => {
    let addrs: LookupAddress[];
    if (literal !== null) {
      addrs = [{ address: host, family: literal.length === 4 ? 4 : 6 }];
    } else {
      addrs = await resolve(host, opts.family ?? 0);
      sock.emit("lookup", null, addrs[0].address, addrs[0].family, host);
    }
    if (sock.destroyed) return;
    const dst = parseIp(addrs[0].address) as IpAddress;
    sock.setTarget(addrs[0].address, port);
    const local =
      opts.localAddress !== undefined ? parseIp(opts.localAddress) : driver.stack.sourceFor(dst);
    if (local === null) throw errnoException("EINVAL", `bad localAddress ${opts.localAddress}`);
    const stack = driver.stack;
    if (stack.tcp === null) throw errnoException("EPROTONOSUPPORT", "this netstack has no TCP");
    const conn = stack.tcp.connect(
      { address: local, port: opts.localPort ?? 0 },
      { address: dst, port },
      {},
      now(),
    );
    sock.attach(conn, false);
  };
  start().catch((err: unknown) => {
    const e =
      err instanceof TcpError || (err as { code?: string })?.code
        ? (err as { code: string; message: string })
        : { code: "EINVAL", message: String(err) };
    sock.destroy(errnoException(e.code, e.message, "connect", host, port));
  });
  return sock;
}
