/**
 * The file descriptor behind a Node dgram socket. Node has no public accessor; on Unix the
 * libuv handle exposes it as `_handle.fd`. Kept in this one function so the hack has one home.
 */
import type { Socket } from "node:dgram";

export function socketFd(socket: Socket): number | null {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : null;
}
