/**
 * The file descriptor behind a Node dgram socket. Node has no public accessor; on Unix the
 * libuv handle exposes it as `fd`. The handle sits in the socket's internal state (the public
 * `_handle` getter does the same lookup but prints a deprecation warning, DEP0112). Kept in this
 * one function so the hack has one home.
 */
import type { Socket } from "node:dgram";

type HandleHolder = { handle?: { fd?: unknown } };

export function socketFd(socket: Socket): number | null {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  const handle =
    state !== undefined
      ? (socket as unknown as Record<symbol, HandleHolder | undefined>)[state]?.handle
      : (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : null;
}
