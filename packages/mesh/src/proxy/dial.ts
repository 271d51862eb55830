/**
 * Opening the target connection for one client, shared by the SOCKS5 CONNECT, the HTTP proxy's
 * CONNECT and the TCP forwards. Exactly one of `connected`/`failed` is called, or neither when
 * the client goes away first: then the half-open target connection is abandoned at once and its
 * timer cleared (a flood of clients that connect and leave must not pin a timer and two sockets
 * each for `connectTimeoutMs`).
 */
import type { Duplex } from "node:stream";
import type { StreamSocket, Transport } from "./transport.js";

export interface DialOutcome {
  connected(upstream: StreamSocket): void;
  /** The target refused, was unreachable or did not answer in time (`code` ETIMEDOUT). */
  failed(err: NodeJS.ErrnoException): void;
}

export function dial(
  transport: Transport,
  target: { readonly host: string; readonly port: number },
  client: Duplex,
  timeoutMs: number,
  outcome: DialOutcome,
): void {
  const upstream = transport.connect({ host: target.host, port: target.port });
  let settled = false;
  const timer = setTimeout(() => {
    const err = new Error(`connect to ${target.host}:${target.port} timed out`);
    upstream.destroy(Object.assign(err, { code: "ETIMEDOUT" }));
  }, timeoutMs);
  const abandon = () => {
    settle();
    upstream.destroy();
  };
  function settle(): void {
    settled = true;
    clearTimeout(timer);
    client.off("close", abandon);
  }
  client.once("close", abandon);
  upstream.once("error", (err: NodeJS.ErrnoException) => {
    if (settled) return;
    settle();
    outcome.failed(err);
  });
  upstream.once("connect", () => {
    if (settled) return;
    settle();
    outcome.connected(upstream);
  });
}
